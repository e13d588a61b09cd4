/* sign: Ed25519 identities, record signatures, sealed boxes. */
#include "sign.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
dml_crypto_init(void)
{
	return sodium_init() < 0 ? dml_error("libsodium failed to start") : 0;
}

int
key_generate(dml_key *k, const unsigned char *seed)
{
	unsigned char *s = sodium_malloc(32);

	if (!s)
		return dml_error("out of secure memory");
	k->sk = sodium_malloc(64);
	if (!k->sk) {
		sodium_free(s);
		return dml_error("out of secure memory");
	}
	if (seed)
		memcpy(s, seed, 32);
	else
		randombytes_buf(s, 32);
	crypto_sign_seed_keypair(k->pk, k->sk, s);
	sodium_free(s);
	return 0;
}

void
key_free(dml_key *k)
{
	if (k->sk)
		sodium_free(k->sk);	/* wipes */
	k->sk = NULL;
}

void
key_hex(const unsigned char *b, size_t n, char *out)
{
	sodium_bin2hex(out, n * 2 + 1, b, n);
}

int
key_parse_hex(const char *s, unsigned char pk[32])
{
	size_t n;

	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64 ||
	    sodium_hex2bin(pk, 32, s, 64, NULL, &n, NULL) != 0 || n != 32)
		return dml_error("not a public key (64 lowercase hex digits): "
		    "\"%.80s\"", s);
	return 0;
}

json_t *
key_pubrecord(const unsigned char pk[32], const char *name)
{
	json_t *r = rec_new("dml.pubkey");
	unsigned char x[32];
	char hex[65];

	key_hex(pk, 32, hex);
	json_object_set_new(r, "key", json_string(hex));
	if (crypto_sign_ed25519_pk_to_curve25519(x, pk) == 0) {
		key_hex(x, 32, hex);
		json_object_set_new(r, "box", json_string(hex));
	}
	if (name)
		json_object_set_new(r, "name", json_string(name));
	return r;
}

/* Secret key file, one line:
 *   {"key":"<hex public>","name":...,"seed":"<base64 32-byte seed>",
 *    "type":"dml.secretkey","v":1}
 * It is read into sodium memory and scanned by hand so the seed never
 * passes through an allocator that does not wipe. */
int
key_save(const char *path, const dml_key *k)
{
	char hex[65], *line;
	char *b64 = sodium_malloc(64);
	size_t n;
	int rc;

	if (!b64)
		return dml_error("out of secure memory");
	/* the seed is the first half of libsodium's 64-byte secret key */
	sodium_bin2base64(b64, 64, k->sk, 32, sodium_base64_VARIANT_ORIGINAL);
	key_hex(k->pk, 32, hex);
	n = (size_t)snprintf(NULL, 0, "{\"key\":\"%s\",\"seed\":\"%s\","
	    "\"type\":\"dml.secretkey\",\"v\":1}\n", hex, b64);
	line = sodium_malloc(n + 1);
	if (!line) {
		sodium_free(b64);
		return dml_error("out of secure memory");
	}
	snprintf(line, n + 1, "{\"key\":\"%s\",\"seed\":\"%s\","
	    "\"type\":\"dml.secretkey\",\"v\":1}\n", hex, b64);
	rc = dml_create_file(path, line, n, 0600);
	sodium_free(line);
	sodium_free(b64);
	return rc;
}

/* Find "name":"value" in a flat one-line object; value has no escapes. */
static int
field(const char *s, const char *name, const char **v, size_t *n)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof pat, "\"%s\":\"", name);
	p = strstr(s, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e)
		return -1;
	*v = p;
	*n = (size_t)(e - p);
	return 0;
}

int
key_load(const char *path, dml_key *k)
{
	FILE *f;
	char *buf = NULL;
	unsigned char *seed = NULL, pk[32];
	const char *v;
	size_t n, len, got;
	int rc = -1;

	memset(k, 0, sizeof *k);
	f = fopen(path, "re");
	if (!f)
		return dml_error_sys("%s", path);
	buf = sodium_malloc(4096);
	seed = sodium_malloc(32);
	if (!buf || !seed) {
		dml_error("out of secure memory");
		goto out;
	}
	setvbuf(f, NULL, _IONBF, 0);
	len = fread(buf, 1, 4095, f);
	buf[len] = 0;
	if (ferror(f)) {
		dml_error("%s: read error", path);
		goto out;
	}
	if (!strstr(buf, "\"type\":\"dml.secretkey\"")) {
		dml_error("%s:1: not a dml secret key file", path);
		goto out;
	}
	if (field(buf, "seed", &v, &n) < 0 ||
	    sodium_base642bin(seed, 32, v, n, NULL, &got, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 || got != 32) {
		dml_error("%s:1: bad or missing \"seed\"", path);
		goto out;
	}
	if (key_generate(k, seed) < 0)
		goto out;
	if (field(buf, "key", &v, &n) == 0) {
		char hex[65];
		if (n != 64) {
			dml_error("%s:1: bad \"key\"", path);
			goto fail;
		}
		memcpy(hex, v, 64);
		hex[64] = 0;
		if (key_parse_hex(hex, pk) < 0 || memcmp(pk, k->pk, 32) != 0) {
			dml_error("%s:1: public key does not match the seed",
			    path);
			goto fail;
		}
	}
	rc = 0;
	goto out;
fail:
	key_free(k);
out:
	fclose(f);
	if (buf)
		sodium_free(buf);
	if (seed)
		sodium_free(seed);
	return rc;
}

int
pubkey_load(const char *arg, unsigned char pk[32])
{
	char *buf;
	size_t len;
	json_t *r;
	json_error_t je;
	const char *hex;

	if (strlen(arg) == 64 && strspn(arg, "0123456789abcdef") == 64)
		return key_parse_hex(arg, pk);
	if (dml_read_file(arg, &buf, &len) < 0)
		return -1;
	if (strstr(buf, "\"dml.secretkey\"")) {
		dml_key k;
		free(buf);
		if (key_load(arg, &k) < 0)
			return -1;
		memcpy(pk, k.pk, 32);
		key_free(&k);
		return 0;
	}
	r = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &je);
	free(buf);
	if (!r)
		return dml_error("%s:%d: malformed JSON: %s", arg, je.line,
		    je.text);
	if (rec_check(NULL, r, "dml.pubkey") < 0 ||
	    rec_get_str(NULL, r, "key", &hex) < 0 ||
	    key_parse_hex(hex, pk) < 0) {
		json_decref(r);
		return dml_error_prefix("%s:1", arg);
	}
	json_decref(r);
	return 0;
}

/* ---- record signatures ----------------------------------------------- */

static int
hash_sink(void *ctx, const void *p, size_t n)
{
	crypto_generichash_update(ctx, p, n);
	return 0;
}

int
rec_digest(const json_t *r, const rec_in *src, unsigned char d[64])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 64);
	if (canon_emit(r, src, "sig", hash_sink, &st) < 0)
		return -1;
	crypto_generichash_final(&st, d, 64);
	return 0;
}

static void
sig_message(unsigned char m[13 + 64], const unsigned char d[64])
{
	memcpy(m, SIG_DOMAIN, 13);
	memcpy(m + 13, d, 64);
}

int
rec_sign(json_t *r, const dml_key *k)
{
	unsigned char d[64], m[77], sig[64];
	char hex[65], b64[sodium_base64_ENCODED_LEN(64,
	    sodium_base64_VARIANT_ORIGINAL)];

	key_hex(k->pk, 32, hex);
	json_object_set_new(r, "from", json_string(hex));
	json_object_del(r, "sig");
	if (rec_digest(r, NULL, d) < 0)
		return -1;
	sig_message(m, d);
	crypto_sign_detached(sig, NULL, m, sizeof m, k->sk);
	sodium_bin2base64(b64, sizeof b64, sig, 64,
	    sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(r, "sig", json_string(b64));
	return 0;
}

int
sig_check(const json_t *r, const rec_in *src, const unsigned char d[64],
    unsigned char pk_out[32])
{
	const char *from, *s;
	unsigned char pk[32], sig[64], m[77];
	size_t n;

	if (rec_get_str(src, r, "from", &from) < 0 ||
	    rec_get_str(src, r, "sig", &s) < 0)
		return -1;
	if (key_parse_hex(from, pk) < 0)
		return rec_err(src, "field \"from\": %s", dml_errmsg());
	if (strlen(s) != 88 || sodium_base642bin(sig, 64, s, 88, NULL, &n,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || n != 64)
		return rec_err(src, "field \"sig\" is not a base64 Ed25519 "
		    "signature");
	sig_message(m, d);
	if (crypto_sign_verify_detached(sig, m, sizeof m, pk) != 0)
		return rec_err(src, "bad signature (from %.16s...)", from);
	if (pk_out)
		memcpy(pk_out, pk, 32);
	return 0;
}

int
rec_verify(const json_t *r, const rec_in *src, unsigned char pk_out[32])
{
	unsigned char d[64];

	if (!json_object_get(r, "sig"))
		return rec_err(src, "record is not signed (no \"sig\")");
	if (rec_digest(r, src, d) < 0)
		return rec_err(src, "%s", dml_errmsg());
	return sig_check(r, src, d, pk_out);
}

/* ---- sealed boxes ---------------------------------------------------- */

int
box_seal(const unsigned char pk[32], const void *m, size_t n,
    unsigned char **ct, size_t *ctlen)
{
	unsigned char x[32];

	if (crypto_sign_ed25519_pk_to_curve25519(x, pk) != 0)
		return dml_error("recipient key is not a valid Ed25519 key");
	*ctlen = n + crypto_box_SEALBYTES;
	*ct = xmalloc(*ctlen);
	if (crypto_box_seal(*ct, m, n, x) != 0) {
		free(*ct);
		return dml_error("sealing failed");
	}
	return 0;
}

int
box_open(const dml_key *k, const unsigned char *ct, size_t n,
    unsigned char **m, size_t *mlen)
{
	unsigned char xpk[32], *xsk;
	int rc;

	if (n < crypto_box_SEALBYTES)
		return dml_error("ciphertext too short");
	xsk = sodium_malloc(32);
	if (!xsk)
		return dml_error("out of secure memory");
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, k->pk) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, k->sk) != 0) {
		sodium_free(xsk);
		return dml_error("bad key");
	}
	*mlen = n - crypto_box_SEALBYTES;
	*m = sodium_malloc(*mlen + 1);
	if (!*m) {
		sodium_free(xsk);
		return dml_error("out of secure memory");
	}
	rc = crypto_box_seal_open(*m, ct, n, xpk, xsk);
	sodium_free(xsk);
	if (rc != 0) {
		sodium_free(*m);
		*m = NULL;
		return dml_error("cannot open the sealed box (not addressed to "
		    "this key, or altered)");
	}
	(*m)[*mlen] = 0;
	return 0;
}
