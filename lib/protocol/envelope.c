/* envelope: records sealed to one recipient and signed by the sender. */
#include "envelope.h"
#include "report.h"
#include "tensor.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *
envelope_seal(const json_t *r, const rec_in *in, const unsigned char to[32],
    const dml_key *k)
{
	size_t n, ctn;
	char *line = canon_dump(r, in, NULL, &n), hex[65], *b64;
	unsigned char *ct;
	json_t *e, *v;

	if (!line)
		return NULL;
	line[n++] = '\n';	/* canon_dump leaves room for the NUL */
	if (box_seal(to, line, n, &ct, &ctn) < 0) {
		free(line);
		return NULL;
	}
	sodium_memzero(line, n);
	free(line);
	b64 = xmalloc(b64_enclen(ctn) + 1);
	b64_encode(b64, ct, ctn);
	free(ct);
	e = rec_new("dml.sealed");
	json_object_set_new(e, "scheme", json_string("box"));
	key_hex(to, 32, hex);
	json_object_set_new(e, "to", json_string(hex));
	json_object_set_new(e, "ct", json_stringn_nocheck(b64,
	    b64_enclen(ctn)));
	free(b64);
	/* routing metadata in the clear: what it is, for which job and round */
	if ((v = json_object_get(r, "job")) && json_is_string(v))
		json_object_set(e, "job", v);
	if ((v = json_object_get(r, "round")) && json_is_integer(v))
		json_object_set(e, "round", v);
	if ((v = json_object_get(r, "type")) && json_is_string(v))
		json_object_set(e, "content", v);
	if (rec_sign(e, k) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static int
open_box(const json_t *env, const rec_in *in, const dml_key *k, json_t **out)
{
	const char *p, *from;
	size_t n, mn;
	unsigned char *ct, *m;
	long long ctn;
	json_t *r, *inner_from;
	json_error_t je;
	int rc = -1;

	if (rec_str(in, json_object_get(env, "ct"), &p, &n) < 0)
		return rec_err(in, "field \"ct\" must be a string");
	ct = xmalloc(b64_declen(n));
	ctn = b64_decode(ct, p, n);
	if (ctn < 0) {
		free(ct);
		return rec_err(in, "field \"ct\" is not base64");
	}
	if (box_open(k, ct, (size_t)ctn, &m, &mn) < 0) {
		free(ct);
		return rec_err(in, "%s", dml_errmsg());
	}
	free(ct);
	if (mn == 0 || m[mn - 1] != '\n' || memchr(m, '\n', mn) != m + mn - 1) {
		rec_err(in, "the envelope does not hold one record line");
		goto out;
	}
	r = json_loadb((const char *)m, mn - 1, JSON_REJECT_DUPLICATES, &je);
	if (!r || !json_is_object(r)) {
		json_decref(r);
		rec_err(in, "the envelope holds malformed JSON: %s", je.text);
		goto out;
	}
	/* a signed record inside must come from the envelope's signer */
	inner_from = json_object_get(r, "from");
	from = json_string_value(json_object_get(env, "from"));
	if (json_object_get(r, "sig") && (!json_is_string(inner_from) || !from ||
	    strcmp(json_string_value(inner_from), from) != 0)) {
		json_decref(r);
		rec_err(in, "the record inside was signed by another key than "
		    "the envelope");
		goto out;
	}
	*out = r;
	rc = 0;
out:
	sodium_free(m);
	return rc;
}

int
envelope_open(const json_t *env, const rec_in *in, const dml_key *k,
    int verify, json_t **out)
{
	const char *scheme, *to;
	unsigned char topk[32];

	if (rec_check(in, env, "dml.sealed") < 0 ||
	    rec_get_str(in, env, "scheme", &scheme) < 0 ||
	    rec_get_str(in, env, "to", &to) < 0)
		return -1;
	if (strcmp(scheme, "box") != 0)
		return rec_err(in, "unknown scheme \"%s\"", scheme);
	if (key_parse_hex(to, topk) < 0)
		return rec_err(in, "field \"to\": %s", dml_errmsg());
	if (memcmp(topk, k->pk, 32) != 0)
		return rec_err(in, "envelope is addressed to %.16s..., not to "
		    "this key", to);
	if (verify && rec_verify(env, in, NULL) < 0)
		return -1;
	return open_box(env, in, k, out);
}

/* A Paillier job's report or aggregate, decrypted, signed by k. */
static json_t *
decrypt_sums(json_t *r, const rec_in *in, const dml_key *k, int verify,
    const dml_job *j, const paillier_sk *sk)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	const char *const *names;
	int nnames;
	json_t *out;

	if (verify && rec_verify(r, in, NULL) < 0)
		return NULL;
	if (strcmp(type, "dml.report") == 0) {
		names = report_class_names(j->data, &nnames);
		if (!(out = report_decrypt(j, r, in, sk, names, nnames)))
			return NULL;
		report_render(out);
	} else if (!(out = report_decrypt_aggregate(j, r, in, sk)))
		return NULL;
	if (rec_sign(out, k) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Does the record hold Paillier sums for the customer to decrypt? */
static int
paillier_sums(const json_t *r)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *sum = json_object_get(r, "sum"), *t;
	const char *key;

	if (!type || (strcmp(type, "dml.report") && strcmp(type,
	    "dml.aggregate")))
		return 0;
	if (json_object_get(r, "encryption"))
		return 1;
	json_object_foreach(sum, key, t)
		if (ptensor_is(t))
			return 1;
	return 0;
}

json_t *
envelope_unwrap(json_t *r, const rec_in *in, const dml_key *k, int verify,
    const dml_job *j, const paillier_sk *sk)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *inner = NULL, *out;

	if (!sk || (type && strcmp(type, "dml.sealed") == 0)) {
		if (envelope_open(r, in, k, verify, &inner) < 0)
			return NULL;
		r = inner;
	}
	if (sk && paillier_sums(r))
		out = decrypt_sums(r, in, k, verify, j, sk);
	else
		out = json_incref(r);
	json_decref(inner);
	return out;
}

/* ---- Paillier: results ------------------------------------------------ */

/* The fields of r but its values and signature (borrowed references). */
static json_t *
shell_of(const json_t *r)
{
	json_t *o = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)r, key, v)
		if (strcmp(key, "values") && strcmp(key, "sig") &&
		    strcmp(key, "from"))
			json_object_set(o, key, v);
	return o;
}

static json_t *
encrypt_value(const rec_in *in, const char *name, const json_t *t,
    const dml_job *j, const paillier_rng *rng)
{
	dml_tensor x;
	double *d;
	json_t *e;

	if (tensor_from_json(in, t, name, &x) < 0)
		return NULL;
	if (x.dtype != DT_F32 && x.dtype != DT_F64) {
		tensor_free(&x);
		return rec_err(in, "value \"%s\" is %s, not f32 or f64", name,
		    dtype_name(x.dtype)), NULL;
	}
	d = xmalloc((x.n ? x.n : 1) * sizeof *d);
	for (size_t i = 0; i < x.n; i++)
		d[i] = tensor_get(&x, i);
	e = ptensor_encrypt(&j->enc.pk, &j->enc.layout, d, x.ndim, x.shape,
	    rng);
	sodium_memzero(d, x.n * sizeof *d);
	free(d);
	tensor_free(&x);
	if (!e)
		rec_err(in, "value \"%s\": %s", name, dml_errmsg());
	return e;
}

json_t *
envelope_paillier(const json_t *r, const rec_in *in, const dml_job *j,
    const dml_key *k, const paillier_rng *rng)
{
	unsigned char signer[32];
	const char *job, *key;
	json_t *vals, *out, *enc, *v;

	if (!j->enc.on)
		return dml_error("the job does not ask for Paillier encryption "
		    "(no \"encryption\")"), NULL;
	if (rec_check(in, r, "dml.result") < 0 ||
	    rec_get_str(in, r, "job", &job) < 0 ||
	    !(vals = rec_get_obj(in, r, "values")) ||
	    rec_verify(r, in, signer) < 0)
		return NULL;
	if (memcmp(signer, k->pk, 32) != 0)
		return rec_err(in, "the result is signed by another key than "
		    "-k: a device encrypts its own results"), NULL;
	if (strcmp(job, j->id) != 0)
		return rec_err(in, "the result is for job %.20s..., not %s", job,
		    j->id), NULL;
	enc = json_object();
	json_object_foreach(vals, key, v) {
		json_t *e;
		if (json_is_object(v) && ptensor_is(v)) {
			ptensor h;
			if (ptensor_header(in, v, key, &j->enc.pk, &h) < 0) {
				json_decref(enc);
				return NULL;
			}
			/* already encrypted (an encrypted model's scores) */
			e = json_deep_copy(v);
			if (rec_detach(in, e) < 0) {
				json_decref(e);
				json_decref(enc);
				return NULL;
			}
			json_object_set_new(enc, key, e);
			continue;
		}
		if (!(e = encrypt_value(in, key, v, j, rng))) {
			json_decref(enc);
			return NULL;
		}
		json_object_set_new(enc, key, e);
	}
	out = shell_of(r);
	json_object_set_new(out, "values", enc);
	if (rec_sign(out, k) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* ---- Paillier: encrypted models ---------------------------------------- */

json_t *
pmodel_encrypt(const dml_model *m, const paillier_pk *pk, const fxp_layout *l,
    int wfrac, int xfrac, const paillier_rng *rng)
{
	size_t F, C;
	fxp_layout lw = *l;
	int64_t shape[2], v, l1, w_l1 = 0, w_max = 0, b_max = 0;
	double *x;
	json_t *r, *t;

	if (m->arch == MODEL_CNN)
		return dml_error("only linear and softmax-regression models can "
		    "be evaluated encrypted, not a cnn"), NULL;
	if (m->nlayers != 1)
		return dml_error("only a model of one weight layer (softmax or "
		    "linear regression) can be evaluated encrypted; this one "
		    "has %d", m->nlayers), NULL;
	F = (size_t)m->sizes[0];
	C = (size_t)m->sizes[1];
	if (C > (size_t)l->slots)
		return dml_error("%zu classes do not fit the layout's %d slots",
		    C, l->slots), NULL;
	if (wfrac < 0 || wfrac > FXP_MAXFRAC || xfrac < 0 || xfrac > 30)
		return dml_error("weight fractional bits must be in [0, %d] and "
		    "feature fractional bits in [0, 30]", FXP_MAXFRAC), NULL;
	/* row j < F: feature j's weight for every class; row F: biases */
	x = xmalloc((F + 1) * C * sizeof *x);
	for (size_t c = 0; c < C; c++) {
		for (size_t j = 0; j < F; j++)
			x[j * C + c] = m->params[c * F + j];
		x[F * C + c] = m->params[C * F + c];
	}
	lw.frac = wfrac;
	lw.slots = (int)C;
	for (size_t c = 0; c < C; c++) {
		l1 = 0;
		for (size_t j = 0; j <= F; j++) {
			if (fxp_encode(x[j * C + c], wfrac, fxp_max_value(&lw),
			    &v) < 0) {
				dml_error("%s %zu of class %zu is %g: outside the "
				    "layout's bound |w| < 2^%d", j == F ? "bias" :
				    "weight", j, c, x[j * C + c], lw.ibits);
				free(x);
				return NULL;
			}
			v = v < 0 ? -v : v;
			if (j == F) {
				b_max = v > b_max ? v : b_max;
				continue;
			}
			w_max = v > w_max ? v : w_max;
			if ((l1 += v) > (1LL << 53)) {
				free(x);
				return dml_error("the weights of class %zu are too "
				    "large for their fractional bits", c), NULL;
			}
		}
		w_l1 = l1 > w_l1 ? l1 : w_l1;
	}
	shape[0] = (int64_t)F + 1;
	shape[1] = (int64_t)C;
	t = ptensor_encrypt(pk, &lw, x, 2, shape, rng);
	free(x);
	if (!t)
		return NULL;
	r = rec_new("dml.paillier.model");
	json_object_set_new(r, "arch", json_string(model_arch_name(m->arch)));
	json_object_set_new(r, "layers", json_pack("[i,i]", m->sizes[0],
	    m->sizes[1]));
	json_object_set_new(r, "frac_bits", json_integer(wfrac));
	json_object_set_new(r, "x_frac_bits", json_integer(xfrac));
	json_object_set_new(r, "w_l1", json_integer(w_l1));
	json_object_set_new(r, "w_max", json_integer(w_max));
	json_object_set_new(r, "b_max", json_integer(b_max));
	json_object_set_new(r, "weights", t);
	if (m->name)
		json_object_set_new(r, "name", json_string(m->name));
	return r;
}

static int
pmodel_parse(pmodel *pm, const rec_in *in, const json_t *r, const dml_job *j)
{
	const paillier_pk *pk = &j->enc.pk;
	json_t *layers = rec_get_arr(in, r, "layers");
	long long wf, xf;
	ptensor h;

	if (!layers || rec_check(in, r, "dml.paillier.model") < 0 ||
	    rec_get_int(in, r, "frac_bits", 0, FXP_MAXFRAC, &wf) < 0 ||
	    rec_get_int(in, r, "x_frac_bits", 0, 30, &xf) < 0 ||
	    rec_get_int(in, r, "w_l1", 0, 1LL << 53, &pm->w_l1) < 0 ||
	    rec_get_int(in, r, "w_max", 0, 1LL << 53, &pm->w_max) < 0 ||
	    rec_get_int(in, r, "b_max", 0, 1LL << 53, &pm->b_max) < 0)
		return -1;
	pm->wfrac = (int)wf;
	pm->xfrac = (int)xf;
	if (json_array_size(layers) != 2 ||
	    json_integer_value(json_array_get(layers, 0)) != j->features ||
	    json_integer_value(json_array_get(layers, 1)) != j->classes)
		return rec_err(in, "the model's layers are not the job's [%lld, "
		    "%lld]", j->features, j->classes);
	pm->features = j->features;
	pm->classes = j->classes;
	if (!j->enc.model || wf + xf != j->enc.score_frac)
		return rec_err(in, "the job does not name this encrypted model "
		    "(its score_frac_bits differ)");
	if (ptensor_header(in, json_object_get(r, "weights"), "weights", pk,
	    &h) < 0)
		return -1;
	if (h.ndim != 2 || h.shape[0] != j->features + 1 ||
	    h.shape[1] != j->classes || h.slots != (int)j->classes ||
	    h.width != j->enc.layout.width || h.frac != wf)
		return rec_err(in, "tensor \"weights\" must be [%lld, %lld], "
		    "%lld slots of %d bits with %lld fractional bits",
		    j->features + 1, j->classes, j->classes,
		    j->enc.layout.width, wf);
	pm->ctbytes = pk->ctbytes;
	pm->ct = xmalloc(b64_declen(h.b64len) + 1);
	if (ptensor_bytes(&h, pk, pm->ct) < 0)
		return rec_err(in, "tensor \"weights\": bad base64 in \"data\"");
	return 0;
}

int
pmodel_load(pmodel *pm, const char *path, const dml_job *j)
{
	rec_in *in;
	json_t *r = NULL;
	int rc;

	memset(pm, 0, sizeof *pm);
	if (!(in = rec_open(path)))
		return -1;
	rc = rec_next(in, &r);
	if (rc == 0)
		rc = dml_error("%s: empty input: no model", path);
	else if (rc > 0)
		rc = pmodel_parse(pm, in, r, j);
	json_decref(r);
	rec_close(in);
	if (rc < 0)
		pmodel_free(pm);
	return rc < 0 ? -1 : 0;
}

void
pmodel_free(pmodel *pm)
{
	free(pm->ct);
	pm->ct = NULL;
}

json_t *
pmodel_scores(const pmodel *pm, const dml_job *j, const float *x, size_t n,
    const paillier_rng *rng)
{
	const paillier_pk *pk = &j->enc.pk;
	size_t F = (size_t)pm->features;
	int64_t *e = xcalloc(F + 1, sizeof *e), xmax = 0;
	unsigned __int128 l1 = 0, bound;
	mpz_t acc, c, t, k;
	ptensor h;
	json_t *out = NULL;

	/* X_j = sum of feature j over the samples, with xfrac fraction bits;
	 * the bias row is weighted by n */
	for (size_t f = 0; f < F; f++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i * F + f];
		if (fxp_encode(s, pm->xfrac, 1LL << 62, &e[f]) < 0) {
			dml_error("the sum of feature %zu is not finite or too "
			    "large", f);
			goto out;
		}
		l1 += (unsigned __int128)(e[f] < 0 ? -e[f] : e[f]);
		xmax = (e[f] < 0 ? -e[f] : e[f]) > xmax ? (e[f] < 0 ? -e[f] :
		    e[f]) : xmax;
	}
	e[F] = (int64_t)n << pm->xfrac;
	/* |score_c| <= min(|X|inf |W_c|1, |X|1 |W|max) + n 2^xfrac |b|max */
	bound = (unsigned __int128)xmax * (unsigned __int128)pm->w_l1;
	if (l1 * (unsigned __int128)pm->w_max < bound)
		bound = l1 * (unsigned __int128)pm->w_max;
	bound += (unsigned __int128)e[F] * (unsigned __int128)pm->b_max;
	if (bound > (unsigned __int128)fxp_max_value(&j->enc.layout)) {
		dml_error("the class scores of %zu samples could reach 2^%.1f, "
		    "beyond the job's per-summand bound 2^%d: the job needs "
		    "more int_bits", n, log2((double)bound), j->enc.layout.ibits
		    + j->enc.layout.frac);
		goto out;
	}
	mpz_inits(acc, c, t, k, NULL);
	mpz_set_ui(acc, 1);
	for (size_t f = 0; f <= F; f++) {
		if (e[f] == 0)
			continue;
		/* the model's ciphertexts are public; a bad one only spoils
		 * this result */
		if (paillier_ct_import(pk, c, pm->ct + f * pm->ctbytes) < 0 ||
		    !paillier_valid(pk, c)) {
			dml_error("the model's ciphertext %zu is not valid", f);
			goto clear;
		}
		if (e[f] < 0)
			mpz_invert(c, c, pk->n2);
		mpz_set_ui(k, (unsigned long)(e[f] < 0 ? -e[f] : e[f]));
		mpz_powm_sec(t, c, k, pk->n2);	/* the exponent is our data */
		mpz_mul(t, t, acc);
		mpz_tdiv_r(acc, t, pk->n2);
	}
	paillier_rerandomize(pk, acc, rng);
	memset(&h, 0, sizeof h);
	h.ndim = 1;
	h.shape[0] = pm->classes;
	h.n = (size_t)pm->classes;
	h.slots = j->enc.layout.slots;
	h.width = j->enc.layout.width;
	h.frac = pm->wfrac + pm->xfrac;
	h.summands = 1;
	h.nct = 1;
	memcpy(h.kid, pk->kid, sizeof h.kid);
	out = ptensor_json(pk, &h, &acc);
clear:
	mpz_clears(acc, c, t, k, NULL);
out:
	sodium_memzero(e, (F + 1) * sizeof *e);
	free(e);
	return out;
}

/* ---- one record, as dml-encrypt treats it -------------------------- */

static json_t *
paillier_any(const envelope_op *op, json_t *r, const rec_in *in)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	dml_model m;
	json_t *e;

	if (strcmp(type, "dml.declined") == 0)	/* nothing to encrypt */
		return json_incref(r);
	if (strcmp(type, "dml.result") == 0) {
		if (!op->job)
			return rec_err(in, "a dml.result is encrypted to its "
			    "job's key: give -j JOB"), NULL;
		return envelope_paillier(r, in, op->job, op->k, NULL);
	}
	if (strcmp(type, "dml.model") != 0)
		return rec_err(in, "--scheme paillier encrypts dml.result and "
		    "dml.model records, not %s", type), NULL;
	if (!op->pk)
		return rec_err(in, "a model is encrypted to the customer's "
		    "Paillier key: give -r PAILLIER-PUB"), NULL;
	if (model_from_record(&m, in, r) < 0)
		return NULL;
	e = pmodel_encrypt(&m, op->pk, op->layout, op->wfrac, op->xfrac, NULL);
	model_free(&m);
	if (!e)
		return rec_err(in, "%s", dml_errmsg()), NULL;
	if (rec_sign(e, op->k) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

json_t *
envelope_apply(const envelope_op *op, json_t *r, const rec_in *in)
{
	if (op->mode == ENVELOPE_OPEN)
		return envelope_unwrap(r, in, op->k, op->verify, op->job,
		    op->sk);
	if (rec_check(in, r, NULL) < 0)
		return NULL;
	if (op->mode == ENVELOPE_PAILLIER)
		return paillier_any(op, r, in);
	return envelope_seal(r, in, op->to, op->k);
}
