/* aggregate: verify, deduplicate, validate and sum results in a stream. */
#include "aggregate.h"
#include "paillier.h"
#include "pipeline.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const agg_reject_name[AGG_NREJECT] = {
	"duplicate", "forged", "invalid", "malformed", "replay", "wrong_job"};

/* ---- scale factors ------------------------------------------------------ */

struct scale {
	unsigned char key[32];
	long long factor;
};

struct agg_scales {
	struct scale *v;
	size_t n;
};

static int
scale_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* A dml.weight line: 1 and the kept trainer's key and factor, 0 for an
 * excluded trainer (its result must not be in the input at all), -1. */
static int
weight_line(const char *line, unsigned char key[32], long *f)
{
	json_t *r = json_loads(line, 0, NULL);
	const char *dev = json_string_value(json_object_get(r, "device"));
	json_t *fac = json_object_get(r, "factor");
	int kept = json_is_true(json_object_get(r, "kept")), rc = -1;

	if (!r || !json_is_object(r) || !json_is_string(json_object_get(r,
	    "type")) || strcmp(json_string_value(json_object_get(r, "type")),
	    "dml.weight") != 0)
		dml_error("expected \"KEY FACTOR\" or a dml.weight record");
	else if (!dev || key_parse_hex(dev, key) < 0)
		dml_error("dml.weight: bad \"device\"");
	else if (!kept)
		rc = 0;
	else if (!json_is_integer(fac) || json_integer_value(fac) < 1 ||
	    json_integer_value(fac) > 1 << 20)
		dml_error("dml.weight: \"factor\" must be an integer in "
		    "[1, 1048576]");
	else {
		*f = (long)json_integer_value(fac);
		rc = 1;
	}
	json_decref(r);
	return rc;
}

agg_scales *
agg_scales_load(const char *path)
{
	agg_scales *s = xcalloc(1, sizeof *s);
	char *buf, *line, *next, *end;
	size_t len, cap = 0;
	long ln = 0;

	if (dml_read_file(path, &buf, &len) < 0) {
		free(s);
		return NULL;
	}
	end = buf + len;
	for (line = buf; line < end; line = next) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *sp;
		long f;
		next = nl ? nl + 1 : end;
		if (nl)
			*nl = 0;
		ln++;
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (s->n == cap) {
			cap = cap ? 2 * cap : 64;
			s->v = xrealloc(s->v, cap * sizeof *s->v);
		}
		if (*line == '{') {	/* a dml.weight record (dml-weight -w) */
			int rc = weight_line(line, s->v[s->n].key, &f);
			if (rc < 0) {
				dml_error_prefix("%s:%ld", path, ln);
				free(buf);
				agg_scales_free(s);
				return NULL;
			}
			if (rc > 0)
				s->v[s->n++].factor = f;
			continue;
		}
		sp = line + strcspn(line, " \t");
		if (*sp)
			*sp++ = 0;
		sp += strspn(sp, " \t");
		sp[strcspn(sp, " \t\r")] = 0;
		if (key_parse_hex(line, s->v[s->n].key) < 0 ||
		    dml_parse_long(sp, 1, 1L << 20, &f) < 0) {
			dml_error("%s:%ld: want \"KEY FACTOR\": 64 hex digits and "
			    "an integer in [1, 1048576]", path, ln);
			free(buf);
			agg_scales_free(s);
			return NULL;
		}
		s->v[s->n++].factor = f;
	}
	free(buf);
	qsort(s->v, s->n, sizeof *s->v, scale_cmp);
	for (size_t i = 1; i < s->n; i++)
		if (!memcmp(s->v[i - 1].key, s->v[i].key, 32)) {
			dml_error("%s: a device is listed twice", path);
			agg_scales_free(s);
			return NULL;
		}
	return s;
}

void
agg_scales_free(agg_scales *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

long long
agg_scale_of(const agg_scales *s, const unsigned char k[32])
{
	const struct scale *f;

	if (!s || !s->n)
		return 1;
	f = bsearch(k, s->v, s->n, sizeof *s->v, scale_cmp);
	return f ? f->factor : 1;
}

/* ---- aggregation -------------------------------------------------------- */

#define MAXVAL 4

/* The values each task returns, in the order of their sums. */
static const char *const value_names[3][MAXVAL] = {
	[TASK_PREDICT] = {"hist", "prob", NULL, NULL},
	[TASK_STATS] = {"hist", "labels", "sum", "sumsq"},
	[TASK_TRAIN] = {"delta", NULL, NULL, NULL},
};
/* A predict job with an encrypted model returns encrypted class scores. */
static const char *const score_names[MAXVAL] = {"score", NULL, NULL, NULL};

static const char *const *
names_of(const dml_job *j)
{
	return j->enc.model ? score_names : value_names[j->task];
}

struct val {
	int present;
	enum dml_dtype dtype;
	size_t n;		/* elements */
	size_t off;		/* decoded bytes at scratch[slot] + off */
	const char *b64;	/* valid while the record is current */
	size_t b64len;
	int pail;		/* Paillier: n values in nct ciphertexts */
	size_t nct;		/* whose numbers sit at ct[slot] + ctoff */
	size_t ctoff;
};

/* One input between reading and summing. */
struct item {
	json_t *r;		/* held until its signature is checked */
	const char *file;
	long line;
	int agg;		/* a dml.aggregate */
	int slot;
	long long round, n, devices, results;
	double weight;
	unsigned char from[32];
	char model[CID_MAXSTR];
	struct val v[MAXVAL];
	char invalid[320];	/* why the content fails the job, or "" */
	size_t nmembers;	/* aggregates: keys at members[slot] */
	long long rej[AGG_NREJECT];
	json_t *nodes;		/* aggregates: the federated nodes inside */
	long long summands;	/* Paillier: summands its values hold */
};

/* The checks every input passes before its content (see agg_intake_new):
 * one set of rules for the node that sums (dml_agg) and for a program
 * that keeps the records (dml-weight). */
struct agg_intake {
	const dml_job *job;
	long long want;		/* the round asked for, or -1 */
	long long round;	/* want, else the first authentic input's */
	int no_verify;
	const keyset *devices;	/* results only from these, or NULL */
	const keyset *nodes;	/* aggregates only from these, or NULL */
	keyset *seen;		/* devices taken: summed, or kept */
};

struct dml_agg {
	const dml_job *job;
	agg_opts o;
	agg_intake intake;
	agg_event_fn fn;
	void *ctx;
	pipeline *pl;
	unsigned char *scratch[PIPELINE_SLOTS];
	size_t scap[PIPELINE_SLOTS];
	unsigned char *members[PIPELINE_SLOTS];
	size_t mcap[PIPELINE_SLOTS];
	struct item pend;
	int pending;
	double *sum[MAXVAL];
	size_t len[MAXVAL];	/* elements of each sum, 0 before the first */
	long long n, devices, results, accepted;
	double weight;
	char model[CID_MAXSTR];
	long long rej[AGG_NREJECT];
	json_t *nodes;		/* federated nodes of the input aggregates */
	/* Paillier jobs: the sums are ciphertexts multiplied mod n^2 */
	mpz_t *acc[MAXVAL];
	mpz_t *ct[PIPELINE_SLOTS];	/* an input's ciphertexts */
	size_t ctcap[PIPELINE_SLOTS];
	mpz_t prod, tmp;
	long long summands;
	/* robust rules: every input's mean update, weight and signer */
	double *rows, *rw;
	unsigned char *rkeys;
	size_t nrows, rcap;
};

static int
robust_on(const dml_agg *a)
{
	return a->o.rule && a->o.rule->kind != ROBUST_MEAN;
}

int
agg_rule_check(const dml_job *job, const robust_rule *rule)
{
	char b[64];

	if (!rule || rule->kind == ROBUST_MEAN)
		return 0;
	if (job->enc.on)
		return dml_error("rule %s: robust rules need plaintext updates; "
		    "this job's results are encrypted", robust_str(rule, b));
	if (job->task != TASK_TRAIN)
		return dml_error("rule %s: robust rules apply to train jobs, "
		    "this job's task is %s", robust_str(rule, b),
		    task_name(job->task));
	return 0;
}

static mpz_t *
mpz_array(size_t n)
{
	mpz_t *v = xmalloc((n ? n : 1) * sizeof *v);

	for (size_t i = 0; i < n; i++)
		mpz_init(v[i]);
	return v;
}

static void
mpz_array_free(mpz_t *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		mpz_clear(v[i]);
	free(v);
}

static void
intake_init(agg_intake *t, const dml_job *job, const agg_opts *o)
{
	memset(t, 0, sizeof *t);
	t->job = job;
	t->want = t->round = o->round;
	t->no_verify = o->no_verify;
	t->devices = o->devices;
	t->nodes = o->nodes;
	t->seen = keyset_new();
}

dml_agg *
agg_new(const dml_job *job, const agg_opts *o, agg_event_fn fn, void *ctx)
{
	dml_agg *a = xcalloc(1, sizeof *a);

	a->job = job;
	a->o = *o;
	a->fn = fn;
	a->ctx = ctx;
	intake_init(&a->intake, job, o);
	a->nodes = json_array();
	mpz_inits(a->prod, a->tmp, NULL);
	if (!o->no_verify)
		a->pl = pipeline_new();
	return a;
}

static void
drop_buffers(dml_agg *a)
{
	pipeline_free(a->pl);
	a->pl = NULL;
	for (int i = 0; i < PIPELINE_SLOTS; i++) {
		free(a->scratch[i]);
		free(a->members[i]);
		a->scratch[i] = a->members[i] = NULL;
		a->scap[i] = a->mcap[i] = 0;
		mpz_array_free(a->ct[i], a->ctcap[i]);
		a->ct[i] = NULL;
		a->ctcap[i] = 0;
	}
}

void
agg_free(dml_agg *a)
{
	if (!a)
		return;
	drop_buffers(a);
	json_decref(a->pend.r);
	json_decref(a->pend.nodes);
	json_decref(a->nodes);
	keyset_free(a->intake.seen);
	for (int k = 0; k < MAXVAL; k++) {
		free(a->sum[k]);
		mpz_array_free(a->acc[k], a->acc[k] ? (a->len[k] +
		    (size_t)a->job->enc.layout.slots - 1) /
		    (size_t)a->job->enc.layout.slots : 0);
	}
	mpz_clears(a->prod, a->tmp, NULL);
	free(a->rows);
	free(a->rw);
	free(a->rkeys);
	free(a);
}

long long agg_accepted(const dml_agg *a) { return a->accepted; }
const long long *agg_rejected(const dml_agg *a) { return a->rej; }

/* "file:line: what" for an item that may no longer be the current one. */
static int
bad(const struct item *it, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return dml_error("%s:%ld: %s", it->file, it->line, msg);
}

static void
invalid(struct item *it, const char *fmt, ...)
{
	va_list ap;

	if (it->invalid[0])
		return;		/* the first reason is the one reported */
	va_start(ap, fmt);
	vsnprintf(it->invalid, sizeof it->invalid, fmt, ap);
	va_end(ap);
}

/* A name from the input, made safe to quote in a message. */
static const char *
clean(const char *s, char buf[48])
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
		    s[i] != '\\' ? s[i] : '?';
	buf[i] = 0;
	if (s[i])
		strcpy(buf + i, "...");
	return buf;
}

static int
value_index(const dml_job *j, const char *name)
{
	const char *const *names = names_of(j);

	for (int k = 0; k < MAXVAL; k++)
		if (names[k] && strcmp(names[k], name) == 0)
			return k;
	return -1;
}

/* Elements the job asks of a value; 0: any positive multiple of the
 * features (the bins of a stats histogram are the device's choice). */
static long long
value_len(const dml_job *j, int k)
{
	switch (j->task) {
	case TASK_TRAIN: return j->params;
	case TASK_PREDICT: return j->classes;
	default: return k == 0 ? 0 : k == 1 ? j->classes : j->features;
	}
}

static int
get_key(const rec_in *in, const json_t *r, const char *field,
    unsigned char k[32])
{
	const char *s;

	if (rec_get_str(in, r, field, &s) < 0)
		return -1;
	if (key_parse_hex(s, k) < 0)
		return rec_err(in, "field \"%s\": %s", field, dml_errmsg());
	return 0;
}

/* ---- intake ------------------------------------------------------------ */

/* While the record is current, before its signature: it names the job
 * and, when one was asked for, the round. -1 with *why. */
static int
intake_head(const agg_intake *t, const rec_in *in, const char *type,
    const char *job, long long round, int *why)
{
	char jb[48];

	if (strcmp(job, t->job->id) != 0) {
		*why = AGG_WRONG_JOB;
		return rec_err(in, "%s for another job (%s)", type + 4,
		    clean(job, jb));
	}
	if (t->want >= 0 && round != t->want) {
		*why = AGG_REPLAY;
		return rec_err(in, "%s of round %lld, this is round %lld "
		    "(replayed?)", type + 4, round, t->want);
	}
	return 0;
}

/* After the signature: the signer (and an aggregate's members, at m) may
 * send, the input is of the round (the first authentic one sets it), and
 * none of its devices is taken. -1 with *why and dml_error "file:line:
 * what". A forged input never sets the round nor claims a device. */
static int
intake_check(agg_intake *t, const struct item *it, const unsigned char *m,
    int *why)
{
	char hex[65];

	key_hex(it->from, 32, hex);
	*why = AGG_FORGED;
	if (!it->agg && t->devices && !keyset_has(t->devices, it->from))
		return bad(it, "forged: device %.16s... is not an assigned "
		    "device", hex);
	if (it->agg && t->nodes && !keyset_has(t->nodes, it->from))
		return bad(it, "forged: aggregate from %.16s..., not a trusted "
		    "node", hex);
	for (size_t i = 0; it->agg && t->devices && i < it->nmembers; i++)
		if (!keyset_has(t->devices, m + 32 * i)) {
			key_hex(m + 32 * i, 32, hex);
			return bad(it, "forged: member %.16s... is not an "
			    "assigned device", hex);
		}
	*why = AGG_REPLAY;
	if (t->round < 0)
		t->round = it->round;	/* the first authentic input's */
	else if (it->round != t->round)
		return bad(it, "%s of round %lld, this is round %lld "
		    "(replayed?)", it->agg ? "aggregate" : "result", it->round,
		    t->round);
	*why = AGG_DUPLICATE;
	if (!it->agg && keyset_has(t->seen, it->from))
		return bad(it, "duplicate: a second result from device "
		    "%.16s...", hex);
	for (size_t i = 0; it->agg && i < it->nmembers; i++)
		if (keyset_has(t->seen, m + 32 * i)) {
			key_hex(m + 32 * i, 32, hex);
			return bad(it, "duplicate: device %.16s... is already "
			    "summed", hex);
		}
	return 0;
}

/* The input's devices are taken: another input holding one of them is a
 * duplicate. */
static void
intake_take(agg_intake *t, const struct item *it, const unsigned char *m)
{
	if (!it->agg) {
		keyset_add(t->seen, it->from);
		return;
	}
	for (size_t i = 0; i < it->nmembers; i++)
		keyset_add(t->seen, m + 32 * i);
}

agg_intake *
agg_intake_new(const dml_job *job, const agg_opts *o)
{
	agg_intake *t = xmalloc(sizeof *t);

	intake_init(t, job, o);
	return t;
}

void
agg_intake_free(agg_intake *t)
{
	if (!t)
		return;
	keyset_free(t->seen);
	free(t);
}

long long
agg_intake_round(const agg_intake *t)
{
	return t->round;
}

int
agg_intake_result(agg_intake *t, const rec_in *in, const json_t *r,
    unsigned char from[32], enum agg_reject *why)
{
	struct item it;
	const char *job, *s;
	unsigned char d[64];
	int w = AGG_MALFORMED;

	memset(&it, 0, sizeof it);
	it.file = rec_name(in);
	it.line = rec_line(in);
	if (rec_check(in, r, "dml.result") < 0 ||
	    rec_get_str(in, r, "job", &job) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &it.round) < 0 ||
	    get_key(in, r, "from", it.from) < 0 ||
	    (!t->no_verify && rec_get_str(in, r, "sig", &s) < 0) ||
	    intake_head(t, in, "dml.result", job, it.round, &w) < 0)
		goto fail;
	if (!t->no_verify && rec_digest(r, in, d) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto fail;
	}
	if (!t->no_verify && sig_check(r, NULL, d, NULL) < 0) {
		w = AGG_FORGED;
		bad(&it, "forged: %s", dml_errmsg());
		goto fail;
	}
	if (intake_check(t, &it, NULL, &w) < 0)
		goto fail;
	intake_take(t, &it, NULL);
	memcpy(from, it.from, 32);
	return 0;
fail:
	*why = (enum agg_reject)w;
	return -1;
}

static int
parse_aggregate(dml_agg *a, const rec_in *in, const json_t *r,
    struct item *it)
{
	json_t *mem, *rej, *v;
	unsigned char *m;
	size_t i;

	if (rec_get_int(in, r, "devices", 1, 1LL << 40, &it->devices) < 0 ||
	    rec_get_int(in, r, "results", 1, 1LL << 53, &it->results) < 0 ||
	    !(mem = rec_get_arr(in, r, "members")))
		return -1;
	if ((long long)json_array_size(mem) != it->devices)
		return rec_err(in, "\"members\" lists %zu devices but "
		    "\"devices\" is %lld", json_array_size(mem), it->devices);
	if (a->mcap[it->slot] < json_array_size(mem) * 32) {
		a->mcap[it->slot] = json_array_size(mem) * 32;
		free(a->members[it->slot]);
		a->members[it->slot] = xmalloc(a->mcap[it->slot]);
	}
	m = a->members[it->slot];
	json_array_foreach(mem, i, v) {
		if (!json_is_string(v) ||
		    key_parse_hex(json_string_value(v), m + 32 * i) < 0)
			return rec_err(in, "\"members\"[%zu] is not a device key "
			    "(64 lowercase hex digits)", i);
		if (i && memcmp(m + 32 * (i - 1), m + 32 * i, 32) >= 0)
			return rec_err(in, "\"members\" must be sorted and "
			    "without repeats (at %zu)", i);
	}
	it->nmembers = json_array_size(mem);
	/* provenance for settlement: which federated nodes summed whom */
	if ((v = json_object_get(r, "nodes"))) {
		json_t *e;
		if (!json_is_array(v))
			return rec_err(in, "field \"nodes\" must be an array");
		json_array_foreach(v, i, e) {
			json_t *k = json_object_get(e, "key"),
			       *d = json_object_get(e, "devices");
			unsigned char pk[32];
			if (!json_is_string(k) ||
			    key_parse_hex(json_string_value(k), pk) < 0 ||
			    !json_is_integer(d) || json_integer_value(d) < 1)
				return rec_err(in, "\"nodes\"[%zu] needs a "
				    "\"key\" and a positive \"devices\"", i);
		}
		it->nodes = json_deep_copy(v);
	} else {
		const char *from = json_string_value(json_object_get(r, "from"));
		it->nodes = json_pack("[{s:s,s:I}]", "key", from ? from : "",
		    "devices", (json_int_t)it->devices);
	}
	if ((rej = json_object_get(r, "rejected"))) {
		if (!json_is_object(rej))
			return rec_err(in, "field \"rejected\" must be an "
			    "object");
		for (int k = 0; k < AGG_NREJECT; k++)
			if (rec_opt_int(in, rej, agg_reject_name[k], 0,
			    1LL << 53, &it->rej[k]) < 0)
				return -1;
	}
	return 0;
}

/* A Paillier tensor: its form, and whether the job's key and layout are
 * the ones it was made in. */
static int
parse_paillier(const dml_agg *a, const rec_in *in, const char *name,
    const json_t *t, struct item *it)
{
	const job_enc *e = &a->job->enc;
	json_t *kid = json_object_get(t, "kid");
	ptensor h;
	char nb[48];
	int k, frac;
	long long want;

	if (!e->on) {
		invalid(it, "value \"%s\" is Paillier-encrypted, the job's "
		    "results are not", clean(name, nb));
		return 0;
	}
	if (json_is_string(kid) && strcmp(json_string_value(kid), e->pk.kid)) {
		invalid(it, "value \"%s\" is encrypted to another Paillier key "
		    "than the job's", clean(name, nb));
		return 0;
	}
	if (ptensor_header(in, t, name, &e->pk, &h) < 0)
		return -1;
	if ((k = value_index(a->job, name)) < 0) {
		invalid(it, "unexpected value \"%s\" in a %s result",
		    clean(name, nb), task_name(a->job->task));
		return 0;
	}
	want = value_len(a->job, k);
	frac = e->model ? e->score_frac : e->layout.frac;
	if (h.ndim != 1)
		invalid(it, "value \"%s\" has %d dimensions, not 1", name,
		    h.ndim);
	else if (want && (long long)h.n != want)
		invalid(it, "value \"%s\" has %zu elements, the job needs "
		    "%lld", name, h.n, want);
	else if (!want && (h.n == 0 || h.n % (size_t)a->job->features))
		invalid(it, "value \"%s\" has %zu elements, not a multiple of "
		    "the job's %lld features", name, h.n, a->job->features);
	else if (h.width != e->layout.width || h.slots != e->layout.slots ||
	    h.frac != frac)
		invalid(it, "value \"%s\" is packed %d slots of %d bits with %d "
		    "fractional bits, the job's layout is %d of %d with %d",
		    name, h.slots, h.width, h.frac, e->layout.slots,
		    e->layout.width, frac);
	else if (h.summands > e->layout.max_summands)
		invalid(it, "value \"%s\" holds %lld summands, more than the "
		    "job's max_summands %lld", name, h.summands,
		    e->layout.max_summands);
	else if (!it->agg && h.summands != 1)
		invalid(it, "value \"%s\" claims %lld summands, a result is "
		    "one", name, h.summands);
	else if (it->summands && h.summands != it->summands)
		invalid(it, "values of one input hold different numbers of "
		    "summands (%lld and %lld)", it->summands, h.summands);
	it->summands = h.summands;
	it->v[k].present = 1;
	it->v[k].pail = 1;
	it->v[k].n = h.n;
	it->v[k].nct = h.nct;
	it->v[k].b64 = h.b64;
	it->v[k].b64len = h.b64len;
	return 0;
}

/* Form of a tensor and whether the job wants it; b64 located, not read. */
static int
parse_value(const dml_agg *a, const rec_in *in, const char *name,
    const json_t *t, struct item *it)
{
	dml_tensor h;
	const char *b64;
	size_t len;
	char nb[48];
	int k;
	long long want;

	if (json_is_object(t) && ptensor_is(t))
		return parse_paillier(a, in, name, t, it);
	if (tensor_header(in, t, name, &h, &b64, &len) < 0)
		return -1;
	k = value_index(a->job, name);
	if (k < 0) {
		invalid(it, "unexpected value \"%s\" in a %s result",
		    clean(name, nb), task_name(a->job->task));
		return 0;
	}
	want = value_len(a->job, k);
	if (a->job->enc.on)
		invalid(it, "value \"%s\" is in the clear, the job's results "
		    "are Paillier-encrypted", name);
	else if (h.dtype != DT_F32 && h.dtype != DT_F64)
		invalid(it, "value \"%s\" is %s, not f32 or f64", name,
		    dtype_name(h.dtype));
	else if (h.ndim != 1)
		invalid(it, "value \"%s\" has %d dimensions, not 1", name,
		    h.ndim);
	else if (want && (long long)h.n != want)
		invalid(it, "value \"%s\" has %zu elements, the job needs "
		    "%lld", name, h.n, want);
	else if (!want && (h.n == 0 || h.n % (size_t)a->job->features))
		invalid(it, "value \"%s\" has %zu elements, not a multiple of "
		    "the job's %lld features", name, h.n, a->job->features);
	it->v[k].present = 1;
	it->v[k].dtype = h.dtype;
	it->v[k].n = h.n;
	it->v[k].b64 = b64;
	it->v[k].b64len = len;
	return 0;
}

/* Everything that can be checked before reading the data. -1 with *why
 * and dml_error when the input is rejected (*why AGG_NREJECT: a record
 * to pass over); content failing the job is noted in it->invalid and
 * decided after the signature is checked. */
static int
parse_item(dml_agg *a, const rec_in *in, const json_t *r, struct item *it,
    int *why)
{
	const char *type, *job, *task, *s, *key;
	enum job_task t;
	json_t *vals, *v;

	*why = AGG_MALFORMED;
	if (rec_check(in, r, NULL) < 0)
		return -1;
	type = json_string_value(json_object_get(r, "type"));
	if (strcmp(type, "dml.rerun") == 0) {
		*why = AGG_NREJECT;	/* a node's own output: pass over */
		return -1;
	}
	if (strcmp(type, "dml.aggregate") == 0)
		it->agg = 1;
	else if (strcmp(type, "dml.result") != 0)
		return rec_err(in, "expected a dml.result or dml.aggregate "
		    "record, got %s", type);
	if (rec_get_str(in, r, "job", &job) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &it->round) < 0 ||
	    rec_get_str(in, r, "task", &task) < 0 ||
	    rec_get_int(in, r, "n", 0, 1LL << 53, &it->n) < 0 ||
	    rec_get_num(in, r, "weight", &it->weight) < 0 ||
	    get_key(in, r, "from", it->from) < 0 ||
	    (!a->o.no_verify && rec_get_str(in, r, "sig", &s) < 0))
		return -1;
	if (task_parse(task, &t) < 0)
		return rec_err(in, "field \"task\": %s", dml_errmsg());
	if (t == TASK_TRAIN) {
		cid c;
		if (rec_get_str(in, r, "model", &s) < 0)
			return -1;
		if (cid_parse(&c, s) < 0)
			return rec_err(in, "field \"model\": %s", dml_errmsg());
		snprintf(it->model, sizeof it->model, "%s", s);
	}
	if (it->agg && parse_aggregate(a, in, r, it) < 0)
		return -1;
	if (!(vals = rec_get_obj(in, r, it->agg ? "sum" : "values")))
		return -1;
	if (t != a->job->task)
		invalid(it, "task is %s, the job's is %s", task_name(t),
		    task_name(a->job->task));
	json_object_foreach(vals, key, v)
		if (parse_value(a, in, key, v, it) < 0)
			return -1;
	if (intake_head(&a->intake, in, type, job, it->round, why) < 0)
		return -1;
	for (int k = 0; k < MAXVAL; k++)
		if (names_of(a->job)[k] && !it->v[k].present)
			invalid(it, "value \"%s\" is missing",
			    names_of(a->job)[k]);
	if (!it->agg) {
		if (it->n < a->job->min_samples)
			invalid(it, "n is %lld, below the job's min_samples "
			    "%lld", it->n, a->job->min_samples);
		if (it->weight != (double)it->n)
			invalid(it, "weight %.17g is not n (%lld)", it->weight,
			    it->n);
	} else if (it->weight < 0)
		invalid(it, "weight %.17g is negative", it->weight);
	if (robust_on(a) && !(it->weight > 0))
		invalid(it, "weight %.17g: a robust rule needs a mean update, "
		    "weight must be positive", it->weight);
	return 0;
}

static size_t
value_bytes(const dml_agg *a, const struct val *v)
{
	return v->pail ? v->nct * a->job->enc.pk.ctbytes :
	    v->n * dtype_size(v->dtype);
}

/* Decode the values into the slot's scratch buffer (while the record's
 * line is current). */
static int
decode_values(dml_agg *a, const rec_in *in, struct item *it)
{
	size_t need = 0;
	unsigned char *dst;

	for (int k = 0; k < MAXVAL; k++)
		if (it->v[k].present) {
			it->v[k].off = need;
			/* b64_decode may write up to 3 bytes past the end */
			need += (value_bytes(a, &it->v[k]) + 15) & ~(size_t)7;
		}
	if (need > a->scap[it->slot]) {
		free(a->scratch[it->slot]);
		a->scratch[it->slot] = xmalloc(need);
		a->scap[it->slot] = need;
	}
	dst = a->scratch[it->slot];
	for (int k = 0; k < MAXVAL; k++) {
		struct val *v = &it->v[k];
		if (v->present && b64_decode(dst + v->off, v->b64, v->b64len) !=
		    (long long)value_bytes(a, v))
			return rec_err(in, "tensor \"%s\": bad base64 in "
			    "\"data\"", names_of(a->job)[k]);
	}
	return 0;
}

/* A Paillier value's ciphertexts into ct[slot]: each must be below n^2
 * and prime to n. The second is checked at once for all of them: the
 * product of the ciphertexts mod n is prime to n only if each is. */
static void
check_paillier(dml_agg *a, struct item *it, int k, size_t ctoff)
{
	const paillier_pk *pk = &a->job->enc.pk;
	struct val *v = &it->v[k];
	const unsigned char *b = a->scratch[it->slot] + v->off;
	const char *name = names_of(a->job)[k];
	mpz_t *ct = a->ct[it->slot] + ctoff;

	v->ctoff = ctoff;
	mpz_set_ui(a->prod, 1);
	for (size_t i = 0; i < v->nct; i++) {
		if (paillier_ct_import(pk, ct[i], b + i * pk->ctbytes) < 0) {
			invalid(it, "value \"%s\" ciphertext %zu is not below "
			    "n^2", name, i);
			return;
		}
		mpz_tdiv_r(a->tmp, ct[i], pk->n);
		mpz_mul(a->prod, a->prod, a->tmp);
		mpz_tdiv_r(a->prod, a->prod, pk->n);
	}
	mpz_gcd(a->tmp, a->prod, pk->n);
	if (mpz_cmp_ui(a->tmp, 1) != 0)
		invalid(it, "value \"%s\" holds a ciphertext that is not prime "
		    "to n (not a valid ciphertext)", name);
}

/* Content checks on the decoded values; the first failure goes to
 * it->invalid. Every element must be finite; train deltas are bounded by
 * max_delta * n; counts and probabilities are non-negative, and predict
 * histograms sum to n (probabilities within 1e-3 n). */
static void
check_values(dml_agg *a, struct item *it)
{
	const dml_job *j = a->job;
	const unsigned char *base = a->scratch[it->slot];
	double wn = it->agg ? it->weight : (double)it->n;
	size_t nct = 0;

	for (int k = 0; k < MAXVAL; k++)
		nct += it->v[k].present && it->v[k].pail ? it->v[k].nct : 0;
	if (nct > a->ctcap[it->slot]) {
		mpz_array_free(a->ct[it->slot], a->ctcap[it->slot]);
		a->ct[it->slot] = mpz_array(nct);
		a->ctcap[it->slot] = nct;
	}
	nct = 0;
	if (j->task == TASK_TRAIN && a->model[0] &&
	    strcmp(a->model, it->model) != 0) {
		invalid(it, "base model %s, the summed results' is %s",
		    it->model, a->model);
		return;
	}
	for (int k = 0; k < MAXVAL && !it->invalid[0]; k++) {
		const struct val *v = &it->v[k];
		const char *name = names_of(j)[k];
		const float *f = (const float *)(base + v->off);
		const double *d = (const double *)(base + v->off);
		int f32 = v->dtype == DT_F32, nonneg, bounded;
		double lim = DBL_MAX, total = 0;
		size_t i;

		if (!name)
			break;
		if (a->len[k] && a->len[k] != v->n) {
			invalid(it, "value \"%s\" has %zu elements, the summed "
			    "results' have %zu", name, v->n, a->len[k]);
			return;
		}
		if (v->pail) {	/* the content is beyond our sight */
			check_paillier(a, it, k, nct);
			nct += v->nct;
			continue;
		}
		bounded = j->task == TASK_TRAIN;
		nonneg = (j->task == TASK_PREDICT) ||
		    (j->task == TASK_STATS && k != 2);
		/* an aggregate's bound holds for its exact sum; allow for
		 * the rounding of its f64 additions */
		/* an aggregate's weight is its n, times any scale factors */
		if (bounded && j->max_delta * wn < DBL_MAX / 2)
			lim = j->max_delta * wn *
			    (it->agg ? 1 + 1e-9 : 1);
		/* one pass: !(|x| <= lim) is also true for NaN and inf */
		if (f32) {
			for (i = 0; i < v->n; i++)
				if (!(fabs((double)f[i]) <= lim))
					break;
		} else {
			for (i = 0; i < v->n; i++)
				if (!(fabs(d[i]) <= lim))
					break;
		}
		if (i < v->n) {
			double x = f32 ? f[i] : d[i];
			if (!isfinite(x))
				invalid(it, "value \"%s\" element %zu is not "
				    "finite", name, i);
			else
				invalid(it, "value \"%s\" element %zu is %.9g: "
				    "|delta / n| = %.9g exceeds the job's "
				    "max_delta %.9g", name, i, x,
				    fabs(x) / (double)it->n, j->max_delta);
			return;
		}
		if (!nonneg)
			continue;
		for (i = 0; i < v->n; i++) {
			double x = f32 ? f[i] : d[i];
			if (x < 0) {
				invalid(it, "value \"%s\" element %zu is "
				    "negative", name, i);
				return;
			}
			total += x;
		}
		if (j->task != TASK_PREDICT)
			continue;
		if (k == 0 && total != wn)
			invalid(it, "value \"hist\" sums to %.17g, not n (%lld)",
			    total, it->n);
		else if (k == 1 && fabs(total - wn) > 1e-3 * wn)
			invalid(it, "value \"prob\" sums to %.9g, not n (%lld) "
			    "within 1e-3 n", total, it->n);
	}
}

static void
add_values(dml_agg *a, const struct item *it, long long factor)
{
	const unsigned char *base = a->scratch[it->slot];

	for (int k = 0; k < MAXVAL; k++) {
		const struct val *v = &it->v[k];
		double *s;

		if (!v->present)
			continue;
		if (v->pail) {	/* Enc(x) Enc(y) = Enc(x + y) */
			mpz_t *ct = a->ct[it->slot] + v->ctoff;
			if (factor != 1) {	/* Enc(x)^f = Enc(f x) */
				mpz_set_ui(a->prod, (unsigned long)factor);
				for (size_t i = 0; i < v->nct; i++)
					mpz_powm(ct[i], ct[i], a->prod,
					    a->job->enc.pk.n2);
			}
			if (!a->acc[k]) {
				a->acc[k] = mpz_array(v->nct);
				a->len[k] = v->n;
				for (size_t i = 0; i < v->nct; i++)
					mpz_set(a->acc[k][i], ct[i]);
				continue;
			}
			for (size_t i = 0; i < v->nct; i++) {
				mpz_mul(a->tmp, a->acc[k][i], ct[i]);
				mpz_tdiv_r(a->acc[k][i], a->tmp,
				    a->job->enc.pk.n2);
			}
			continue;
		}
		if (!a->sum[k]) {
			a->sum[k] = xcalloc(v->n ? v->n : 1, sizeof(double));
			a->len[k] = v->n;
		}
		s = a->sum[k];
		if (factor != 1) {
			double m = (double)factor;
			if (v->dtype == DT_F32) {
				const float *f = (const float *)(base + v->off);
				for (size_t i = 0; i < v->n; i++)
					s[i] += m * (double)f[i];
			} else {
				const double *d = (const double *)(base + v->off);
				for (size_t i = 0; i < v->n; i++)
					s[i] += m * d[i];
			}
		} else if (v->dtype == DT_F32) {
			const float *f = (const float *)(base + v->off);
			for (size_t i = 0; i < v->n; i++)
				s[i] += (double)f[i];
		} else {
			const double *d = (const double *)(base + v->off);
			for (size_t i = 0; i < v->n; i++)
				s[i] += d[i];
		}
	}
}

/* Keep the input's mean update (its sum over its weight; a scale factor
 * multiplies both) for the robust rule. */
static void
keep_row(dml_agg *a, const struct item *it, long long factor)
{
	const struct val *v = &it->v[0];
	const unsigned char *base = a->scratch[it->slot] + v->off;
	double *row;

	if (a->nrows == a->rcap) {
		a->rcap = a->rcap ? 2 * a->rcap : 16;
		a->rows = xrealloc(a->rows, a->rcap * v->n * sizeof *a->rows);
		a->rw = xrealloc(a->rw, a->rcap * sizeof *a->rw);
		a->rkeys = xrealloc(a->rkeys, a->rcap * 32);
	}
	row = a->rows + a->nrows * v->n;
	for (size_t i = 0; i < v->n; i++)
		row[i] = (v->dtype == DT_F32 ? (double)((const float *)base)[i] :
		    ((const double *)base)[i]) / it->weight;
	a->rw[a->nrows] = (double)factor * it->weight;
	memcpy(a->rkeys + 32 * a->nrows, it->from, 32);
	a->nrows++;
}

static json_t *
rerun_record(const dml_agg *a, const struct item *it)
{
	json_t *r = rec_new("dml.rerun");
	char hex[65];

	key_hex(it->from, 32, hex);
	json_object_set_new(r, "job", json_string(a->job->id));
	json_object_set_new(r, "round", json_integer(it->round));
	json_object_set_new(r, "device", json_string(hex));
	json_object_set_new(r, "reason", json_string(it->invalid));
	return r;
}

/* Count an input that is not summed; dml_errmsg() says why. */
static int
reject(dml_agg *a, enum agg_reject why, json_t *rerun)
{
	a->rej[why]++;
	if (why != AGG_INVALID && !a->o.keep_going)
		return AGG_EREJECT;
	if (a->fn && a->fn(a->ctx, why, dml_errmsg(), rerun) < 0)
		return AGG_ESYSTEM;
	return 0;
}

static int finish_item(dml_agg *a, struct item *it);

/* Finish an input; an accepted aggregate's nodes join the provenance. */
static int
finish(dml_agg *a, struct item *it)
{
	long long before = a->accepted;
	int rc = finish_item(a, it);

	if (rc == 0 && a->accepted > before && it->nodes)
		json_array_extend(a->nodes, it->nodes);
	json_decref(it->nodes);
	it->nodes = NULL;
	return rc;
}

/* The second half of an input: signature, signer, round, device and
 * content; then it is summed or a rerun is requested. */
static int
finish_item(dml_agg *a, struct item *it)
{
	long long factor;
	char hex[65];
	const unsigned char *m = a->members[it->slot];
	int why;

	if (a->pl) {
		unsigned char d[64];
		int rc;
		if (pipeline_digest(a->pl, it->slot, d) < 0)
			return AGG_ESYSTEM;
		rc = sig_check(it->r, NULL, d, NULL);
		json_decref(it->r);
		it->r = NULL;
		if (rc < 0) {
			bad(it, "forged: %s", dml_errmsg());
			return reject(a, AGG_FORGED, NULL);
		}
	}
	if (intake_check(&a->intake, it, m, &why) < 0)
		return reject(a, (enum agg_reject)why, NULL);
	if (!it->invalid[0])
		check_values(a, it);
	if (it->invalid[0]) {
		json_t *rr = rerun_record(a, it);
		int rc;
		key_hex(it->from, 32, hex);
		bad(it, "rerun requested from %.16s...: %s", hex, it->invalid);
		rc = reject(a, AGG_INVALID, rr);
		json_decref(rr);
		return rc;
	}
	factor = it->agg ? 1 : agg_scale_of(a->o.scales, it->from);
	if (it->summands && a->summands + factor * it->summands >
	    a->job->enc.layout.max_summands) {
		bad(it, "summing this %s would make %lld summands, more than "
		    "the job's max_summands %lld: refused, the slots could "
		    "overflow", it->agg ? "aggregate" : "result",
		    a->summands + factor * it->summands,
		    a->job->enc.layout.max_summands);
		return AGG_EREJECT;	/* whatever keep_going says */
	}
	a->summands += factor * it->summands;
	add_values(a, it, factor);
	if (robust_on(a))
		keep_row(a, it, factor);
	if (a->job->task == TASK_TRAIN && !a->model[0])
		memcpy(a->model, it->model, sizeof a->model);
	a->n += it->n;
	a->weight += (double)factor * it->weight;
	a->accepted++;
	intake_take(&a->intake, it, m);
	if (it->agg) {
		a->devices += it->devices;
		a->results += it->results;
		for (int k = 0; k < AGG_NREJECT; k++)
			a->rej[k] += it->rej[k];
	} else {
		a->devices++;
		a->results++;
	}
	return 0;
}

static int
flush(dml_agg *a)
{
	if (!a->pending)
		return 0;
	a->pending = 0;
	return finish(a, &a->pend);
}

/* The current input is rejected: first settle the one before it, so
 * inputs are counted, reported and summed in input order. */
static int
reject_now(dml_agg *a, enum agg_reject why)
{
	char msg[1024];
	int rc;

	snprintf(msg, sizeof msg, "%s", dml_errmsg());
	if ((rc = flush(a)) != 0)
		return rc;
	dml_error("%s", msg);
	return reject(a, why, NULL);
}

/* The first half of an input, while its line is current: parse, start
 * its digest on the worker, decode its values. */
static int
start_item(dml_agg *a, rec_in *in, const json_t *r, struct item *it,
    int *why)
{
	if (parse_item(a, in, r, it, why) < 0)
		return -1;
	*why = AGG_MALFORMED;
	if (a->pl && pipeline_submit(a->pl, it->slot, r, in) < 0)
		return rec_err(in, "%s", dml_errmsg());
	if (!it->invalid[0] && decode_values(a, in, it) < 0)
		return -1;
	return 0;
}

int
agg_feed(dml_agg *a, rec_in *in)
{
	json_t *r;
	int rc, why;

	for (;;) {
		struct item it;
		long before = rec_line(in);

		rc = rec_next(in, &r);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rec_line(in) == before) {
				/* nothing consumed: a read error, not data */
				char msg[1024];
				snprintf(msg, sizeof msg, "%s", dml_errmsg());
				if ((rc = flush(a)) == 0)
					rc = AGG_ESYSTEM;
				if (rc == AGG_ESYSTEM)
					dml_error("%s", msg);
				return rc;
			}
			if ((rc = reject_now(a, AGG_MALFORMED)) != 0)
				return rc;
			continue;
		}
		memset(&it, 0, sizeof it);
		it.file = rec_name(in);
		it.line = rec_line(in);
		it.slot = a->pending ? !a->pend.slot : 0;
		if (start_item(a, in, r, &it, &why) < 0) {
			json_decref(r);
			json_decref(it.nodes);
			if (why == AGG_NREJECT)
				continue;
			if ((rc = reject_now(a, (enum agg_reject)why)) != 0)
				return rc;
			continue;
		}
		if ((rc = flush(a)) != 0) {
			json_decref(r);
			json_decref(it.nodes);
			return rc;
		}
		if (a->pl)
			it.r = r;
		else
			json_decref(r);
		a->pend = it;
		a->pending = 1;
	}
	return flush(a);
}

int
agg_feed_files(dml_agg *a, int nfiles, char *const *files)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		if (!in)
			return AGG_ESYSTEM;	/* dml_error_sys said why */
		rc = agg_feed(a, in);
		rec_close(in);
	}
	return rc;
}

/* agg_run_files' callback: warn, and sign and write a rerun request. */
struct run {
	rec_out *out;
	const dml_key *key;
	void (*warn)(const char *msg);
};

static int
run_event(void *arg, enum agg_reject why, const char *msg, json_t *rerun)
{
	struct run *x = arg;

	if (x->warn)
		x->warn(msg);
	if (!rerun)
		return 0;
	if (rec_sign(rerun, x->key) < 0 || rec_out_write(x->out, rerun,
	    NULL) < 0)
		return -1;
	return 0;
}

int
agg_run_files(const dml_job *job, const agg_opts *o, const dml_key *k,
    const char *out, void (*warn)(const char *msg), int nfiles,
    char *const *files)
{
	struct run x = {NULL, k, warn};
	dml_agg *a;
	json_t *r;
	int rc;

	if (!(x.out = rec_out_open(out)))
		return AGG_ESYSTEM;
	a = agg_new(job, o, run_event, &x);
	rc = agg_feed_files(a, nfiles, files);
	if (rc == 0 && (r = agg_record(a))) {
		if (rec_sign(r, k) < 0 || rec_out_write(x.out, r, NULL) < 0)
			rc = AGG_ESYSTEM;
		json_decref(r);
	} else if (rc == 0)
		rc = AGG_EREJECT;	/* nothing accepted */
	agg_free(a);
	if (rc != 0) {
		rec_out_abort(x.out);
		return rc;
	}
	return rec_out_commit(x.out) < 0 ? AGG_ESYSTEM : 0;
}

static int
node_cmp(const void *x, const void *y)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)x,
	    "key")), json_string_value(json_object_get(*(json_t *const *)y,
	    "key")));
}

/* One entry per node key, devices added, sorted by key. */
static json_t *
merge_nodes(const json_t *nodes)
{
	size_t n = json_array_size(nodes), i, m = 0;
	json_t **v = xmalloc(n * sizeof *v), *out = json_array();

	for (i = 0; i < n; i++)
		v[i] = json_array_get(nodes, i);
	qsort(v, n, sizeof *v, node_cmp);
	for (i = 0; i < n; i = m) {
		json_int_t d = 0;
		for (m = i; m < n && node_cmp(&v[i], &v[m]) == 0; m++)
			d += json_integer_value(json_object_get(v[m], "devices"));
		json_array_append_new(out, json_pack("{s:O,s:I}", "key",
		    json_object_get(v[i], "key"), "devices", d));
	}
	free(v);
	return out;
}

/* Replace the streaming sum by weight x the rule's combination of the
 * kept mean updates; *excl lists the inputs the rule left out (Krum). */
static int
robust_apply(dml_agg *a, json_t **excl)
{
	size_t d = a->len[0];
	double *out = xmalloc((d ? d : 1) * sizeof *out);
	unsigned char *used = xmalloc(a->nrows);
	char hex[65];
	int rc;

	rc = robust_combine(a->o.rule, a->rows, a->rw, a->nrows, d, out, used);
	if (rc < 0) {
		dml_error_prefix("rule");
		goto done;
	}
	for (size_t j = 0; j < d; j++)
		a->sum[0][j] = a->weight * out[j];
	*excl = json_array();
	for (size_t i = 0; i < a->nrows; i++)
		if (!used[i]) {
			key_hex(a->rkeys + 32 * i, 32, hex);
			json_array_append_new(*excl, json_string(hex));
		}
done:
	free(out);
	free(used);
	return rc;
}

json_t *
agg_record(dml_agg *a)
{
	json_t *r, *sum, *mem, *rej, *excl = NULL;
	const unsigned char *keys;
	size_t nk;
	char hex[65];
	enum job_task t = a->job->task;

	drop_buffers(a);
	if (!a->accepted)
		return dml_error("no results accepted"), NULL;
	if (robust_on(a) && robust_apply(a, &excl) < 0)
		return NULL;
	r = rec_new("dml.aggregate");
	json_object_set_new(r, "job", json_string(a->job->id));
	json_object_set_new(r, "round", json_integer(a->intake.round));
	json_object_set_new(r, "task", json_string(task_name(t)));
	json_object_set_new(r, "n", json_integer(a->n));
	json_object_set_new(r, "weight", json_real(a->weight));
	json_object_set_new(r, "devices", json_integer(a->devices));
	json_object_set_new(r, "results", json_integer(a->results));
	if (t == TASK_TRAIN)
		json_object_set_new(r, "model", json_string(a->model));
	sum = json_object();
	for (int k = 0; k < MAXVAL; k++) {
		int64_t shape[1] = {(int64_t)a->len[k]};
		const char *name = names_of(a->job)[k];
		if (!name)
			continue;
		if (a->job->enc.on) {
			const job_enc *e = &a->job->enc;
			ptensor h;
			memset(&h, 0, sizeof h);
			h.ndim = 1;
			h.shape[0] = (int64_t)a->len[k];
			h.n = a->len[k];
			h.slots = e->layout.slots;
			h.width = e->layout.width;
			h.frac = e->model ? e->score_frac : e->layout.frac;
			h.summands = a->summands;
			h.nct = (h.n + (size_t)h.slots - 1) / (size_t)h.slots;
			memcpy(h.kid, e->pk.kid, sizeof h.kid);
			json_object_set_new(sum, name, ptensor_json(&e->pk, &h,
			    a->acc[k]));
			mpz_array_free(a->acc[k], h.nct);
			a->acc[k] = NULL;
			continue;
		}
		json_object_set_new(sum, name,
		    tensor_to_json(DT_F64, 1, shape, a->sum[k]));
		free(a->sum[k]);	/* the tensor holds them now */
		a->sum[k] = NULL;
	}
	json_object_set_new(r, "sum", sum);
	mem = json_array();
	keys = keyset_sorted(a->intake.seen);
	nk = keyset_count(a->intake.seen);
	for (size_t i = 0; i < nk; i++) {
		key_hex(keys + 32 * i, 32, hex);
		json_array_append_new(mem, json_stringn_nocheck(hex, 64));
	}
	json_object_set_new(r, "members", mem);
	if (json_array_size(a->nodes))
		json_object_set_new(r, "nodes", merge_nodes(a->nodes));
	rej = json_object();
	for (int k = 0; k < AGG_NREJECT; k++)
		json_object_set_new(rej, agg_reject_name[k],
		    json_integer(a->rej[k]));
	json_object_set_new(r, "rejected", rej);
	if (a->o.rule) {
		char b[64];
		json_object_set_new(r, "rule", json_string(robust_str(a->o.rule,
		    b)));
	}
	if (excl)
		json_object_set_new(r, "excluded", excl);
	return r;
}
