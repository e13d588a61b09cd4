/* envelope: records sealed to one recipient and signed by the sender. */
#include "envelope.h"
#include "tensor.h"
#include "util.h"

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
