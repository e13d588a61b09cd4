/* eth: keys, signing, ABI and JSON-RPC; see eth.h. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eth.h"
#include "keccak.h"
#include "util.h"

/* ---- hex and addresses ------------------------------------------------ */

static int
nib(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
eth_unhex(const char *s, unsigned char *out, size_t n)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 2 * n)
		return dml_error("'%.80s': want %zu hex digits", s, 2 * n);
	for (size_t i = 0; i < n; i++) {
		int h = nib(s[2 * i]), l = nib(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return dml_error("'%.80s': not hex", s);
		out[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

char *
eth_hex(const unsigned char *p, size_t n)
{
	char *s = xmalloc(2 * n + 3);

	s[0] = '0';
	s[1] = 'x';
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 + 2 * i, "%02x", p[i]);
	s[2 * n + 2] = 0;
	return s;
}

void
eth_address_str(const unsigned char a[20], char out[43])
{
	unsigned char h[32];

	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < 20; i++)
		sprintf(out + 2 + 2 * i, "%02x", a[i]);
	keccak256(h, out + 2, 40);
	for (int i = 0; i < 40; i++) {
		int bit = (h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
		if (bit >= 8)
			out[2 + i] = (char)toupper((unsigned char)out[2 + i]);
	}
}

int
eth_address_parse(const char *s, unsigned char a[20])
{
	int lower = 0, upper = 0;
	char want[43];

	if (strncmp(s, "0x", 2) != 0 || strlen(s) != 42)
		return dml_error("'%.80s': not an Ethereum address (0x and 40 "
		    "hex digits)", s);
	if (eth_unhex(s, a, 20) < 0)
		return dml_error("'%.80s': not an Ethereum address", s);
	for (const char *p = s + 2; *p; p++) {
		lower |= islower((unsigned char)*p) != 0;
		upper |= isupper((unsigned char)*p) != 0;
	}
	if (lower && upper) {
		eth_address_str(a, want);
		if (strcmp(want, s) != 0)
			return dml_error("'%s': bad EIP-55 checksum (want %s)",
			    s, want);
	}
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

static secp256k1_context *
ctx(void)
{
	static secp256k1_context *c;

	/* one context for the process; created before any thread signs */
	if (!c)
		c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	return c;
}

static void
address_of(const secp256k1_pubkey *pk, unsigned char addr[20])
{
	unsigned char ser[65], h[32];
	size_t n = sizeof ser;

	secp256k1_ec_pubkey_serialize(ctx(), ser, &n, pk,
	    SECP256K1_EC_UNCOMPRESSED);
	keccak256(h, ser + 1, 64);
	memcpy(addr, h + 12, 20);
}

int
eth_key_new(eth_key *k, const unsigned char *secret)
{
	secp256k1_pubkey pk;

	memset(k, 0, sizeof *k);
	if (!(k->sk = sodium_malloc(32)))
		return dml_error("out of secure memory");
	if (secret)
		memcpy(k->sk, secret, 32);
	else
		do
			randombytes_buf(k->sk, 32);
		while (!secp256k1_ec_seckey_verify(ctx(), k->sk));
	if (!secp256k1_ec_pubkey_create(ctx(), &pk, k->sk)) {
		eth_key_free(k);
		return dml_error("not a valid secp256k1 secret key");
	}
	address_of(&pk, k->addr);
	return 0;
}

void
eth_key_free(eth_key *k)
{
	if (k->sk)
		sodium_free(k->sk);
	k->sk = NULL;
}

int
eth_key_save(const char *path, const eth_key *k)
{
	enum { N = 256 };
	char addr[43], *line = sodium_malloc(N);
	int len, rc;

	if (!line)
		return dml_error("out of secure memory");
	eth_address_str(k->addr, addr);
	len = snprintf(line, N, "{\"address\":\"%s\",\"secret\":\"", addr);
	for (int i = 0; i < 32; i++)
		len += snprintf(line + len, N - (size_t)len, "%02x", k->sk[i]);
	len += snprintf(line + len, N - (size_t)len,
	    "\",\"type\":\"dml.eth.secretkey\",\"v\":1}\n");
	rc = dml_create_file(path, line, (size_t)len, 0600);
	sodium_free(line);
	return rc;
}

int
eth_key_load(const char *path, eth_key *k)
{
	enum { CAP = 4096 };
	FILE *f;
	char *buf = NULL, *p, *e;
	unsigned char *sk = NULL, addr[20];
	size_t len;
	int rc = -1;

	memset(k, 0, sizeof *k);
	if (!(f = fopen(path, "re")))
		return dml_error_sys("%s", path);
	buf = sodium_malloc(CAP);
	sk = sodium_malloc(32);
	if (!buf || !sk) {
		dml_error("out of secure memory");
		goto out;
	}
	setvbuf(f, NULL, _IONBF, 0);
	len = fread(buf, 1, CAP - 1, f);
	buf[len] = 0;
	if (!strstr(buf, "\"type\":\"dml.eth.secretkey\"")) {
		dml_error("%s:1: not a dml Ethereum key file (dml-keygen --eth)",
		    path);
		goto out;
	}
	if (!(p = strstr(buf, "\"secret\":\"")) || !(e = strchr(p + 10, '"')) ||
	    e - (p + 10) != 64 || (*e = 0, eth_unhex(p + 10, sk, 32) < 0)) {
		dml_error("%s:1: bad or missing \"secret\"", path);
		goto out;
	}
	if (eth_key_new(k, sk) < 0) {
		dml_error_prefix("%s:1", path);
		goto out;
	}
	if ((p = strstr(e + 1, "\"address\":\"")) || (p = strstr(buf,
	    "\"address\":\""))) {
		char a[43];
		memcpy(a, p + 11, 42);
		a[42] = 0;
		if (eth_address_parse(a, addr) < 0 ||
		    memcmp(addr, k->addr, 20) != 0) {
			eth_key_free(k);
			dml_error("%s:1: \"address\" does not match the secret",
			    path);
			goto out;
		}
	}
	rc = 0;
out:
	fclose(f);
	if (buf)
		sodium_free(buf);
	if (sk)
		sodium_free(sk);
	return rc;
}

/* ---- transactions ----------------------------------------------------- */

void
eth_tx_init(eth_tx *t)
{
	memset(t, 0, sizeof *t);
	mpz_inits(t->tip, t->max_fee, t->value, NULL);
}

void
eth_tx_clear(eth_tx *t)
{
	mpz_clears(t->tip, t->max_fee, t->value, NULL);
}

/* the nine unsigned fields, inside an open list */
static void
tx_fields(rlp_buf *b, const eth_tx *t)
{
	size_t m;

	rlp_u64(b, t->chain_id);
	rlp_u64(b, t->nonce);
	rlp_mpz(b, t->tip);
	rlp_mpz(b, t->max_fee);
	rlp_u64(b, t->gas);
	rlp_bytes(b, t->to, t->create ? 0 : 20);
	rlp_mpz(b, t->value);
	rlp_bytes(b, t->data, t->ndata);
	m = rlp_list_begin(b);		/* access list: empty */
	rlp_list_end(b, m);
}

/* r and s as RLP integers: no leading zeros */
static void
rlp_word(rlp_buf *b, const unsigned char w[32])
{
	size_t i = 0;

	while (i < 32 && w[i] == 0)
		i++;
	rlp_bytes(b, w + i, 32 - i);
}

void
eth_tx_sighash(const eth_tx *t, unsigned char h[32])
{
	static const unsigned char type = 0x02;
	rlp_buf u;
	size_t m;

	rlp_init(&u);
	rlp_raw(&u, &type, 1);
	m = rlp_list_begin(&u);
	tx_fields(&u, t);
	rlp_list_end(&u, m);
	keccak256(h, u.p, u.n);
	rlp_free(&u);
}

int
eth_tx_sign(const eth_tx *t, const eth_key *k, rlp_buf *raw,
    unsigned char hash[32])
{
	static const unsigned char type = 0x02;
	secp256k1_ecdsa_recoverable_signature sig;
	unsigned char h[32], rs[64];
	size_t m;
	int recid;

	eth_tx_sighash(t, h);
	/* RFC 6979 nonces; libsecp256k1 signs with low s (EIP-2) */
	if (!secp256k1_ecdsa_sign_recoverable(ctx(), &sig, h, k->sk, NULL,
	    NULL))
		return dml_error("secp256k1 signing failed");
	secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), rs,
	    &recid, &sig);
	rlp_raw(raw, &type, 1);
	m = rlp_list_begin(raw);
	tx_fields(raw, t);
	rlp_u64(raw, (uint64_t)recid);
	rlp_word(raw, rs);
	rlp_word(raw, rs + 32);
	rlp_list_end(raw, m);
	keccak256(hash, raw->p, raw->n);
	sodium_memzero(rs, sizeof rs);
	return 0;
}

int
eth_recover(const unsigned char h[32], int y, const unsigned char r[32],
    const unsigned char s[32], unsigned char addr[20])
{
	secp256k1_ecdsa_recoverable_signature sig;
	secp256k1_pubkey pk;
	unsigned char rs[64];

	memcpy(rs, r, 32);
	memcpy(rs + 32, s, 32);
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &sig,
	    rs, y) || !secp256k1_ecdsa_recover(ctx(), &pk, &sig, h))
		return dml_error("signature does not recover");
	address_of(&pk, addr);
	return 0;
}

/* ---- ABI ---------------------------------------------------------------- */

void
eth_selector(const char *sig, unsigned char out[4])
{
	unsigned char h[32];

	keccak256(h, sig, strlen(sig));
	memcpy(out, h, 4);
}

void
eth_abi_init(eth_abi *a, const char *sig, size_t nargs)
{
	memset(a, 0, sizeof *a);
	a->nargs = nargs;
	a->head = sig ? 4 : 0;
	a->cap = a->head + 32 * nargs + 1;
	a->p = xcalloc(1, a->cap);
	if (sig)
		eth_selector(sig, a->p);
	a->n = a->head + 32 * nargs;
	rlp_init(&a->tail);
}

static unsigned char *
next_head(eth_abi *a)
{
	if (a->arg >= a->nargs) {
		fprintf(stderr, "eth_abi: more arguments than declared\n");
		abort();
	}
	return a->p + a->head + 32 * a->arg++;
}

void
eth_abi_word(eth_abi *a, const unsigned char w[32])
{
	memcpy(next_head(a), w, 32);
}

static void
be_word(unsigned char w[32], const mpz_t v)
{
	size_t k = 0;

	memset(w, 0, 32);
	if (mpz_sgn(v) > 0 && mpz_sizeinbase(v, 256) <= 32)
		mpz_export(w + 32 - mpz_sizeinbase(v, 256), &k, 1, 1, 1, 0, v);
}

void
eth_abi_mpz(eth_abi *a, const mpz_t v)
{
	be_word(next_head(a), v);
}

void
eth_abi_u64(eth_abi *a, uint64_t v)
{
	unsigned char *w = next_head(a);

	for (int i = 0; i < 8; i++)
		w[31 - i] = (unsigned char)(v >> (8 * i));
}

void
eth_abi_address(eth_abi *a, const unsigned char addr[20])
{
	memcpy(next_head(a) + 12, addr, 20);
}

/* the head word of a dynamic argument: its offset from the head start */
static void
dyn_offset(eth_abi *a)
{
	eth_abi_u64(a, 32 * a->nargs + a->tail.n);
}

static void
tail_u64(eth_abi *a, uint64_t v)
{
	unsigned char w[32] = {0};

	for (int i = 0; i < 8; i++)
		w[31 - i] = (unsigned char)(v >> (8 * i));
	rlp_raw(&a->tail, w, 32);
}

void
eth_abi_string(eth_abi *a, const char *s)
{
	static const unsigned char zero[32];
	size_t n = strlen(s);

	dyn_offset(a);
	tail_u64(a, n);
	rlp_raw(&a->tail, s, n);
	rlp_raw(&a->tail, zero, (32 - n % 32) % 32);
}

void
eth_abi_words(eth_abi *a, const unsigned char (*w)[32], size_t n)
{
	dyn_offset(a);
	tail_u64(a, n);
	for (size_t i = 0; i < n; i++)
		rlp_raw(&a->tail, w[i], 32);
}

void
eth_abi_end(eth_abi *a)
{
	a->p = xrealloc(a->p, a->n + a->tail.n + 1);
	if (a->tail.n)
		memcpy(a->p + a->n, a->tail.p, a->tail.n);
	a->n += a->tail.n;
	rlp_free(&a->tail);
}

void
eth_abi_free(eth_abi *a)
{
	free(a->p);
	rlp_free(&a->tail);
	memset(a, 0, sizeof *a);
}

int
eth_ret_mpz(const unsigned char *p, size_t n, size_t i, mpz_t out)
{
	if (32 * (i + 1) > n)
		return dml_error("contract returned %zu bytes, want word %zu",
		    n, i);
	mpz_import(out, 32, 1, 1, 1, 0, p + 32 * i);
	return 0;
}

int
eth_ret_address(const unsigned char *p, size_t n, size_t i,
    unsigned char addr[20])
{
	if (32 * (i + 1) > n)
		return dml_error("contract returned %zu bytes, want word %zu",
		    n, i);
	memcpy(addr, p + 32 * i + 12, 20);
	return 0;
}

/* ---- JSON-RPC ----------------------------------------------------------- */

struct eth_rpc {
	char *url;
	CURL *curl;
	long id;
	const char *const *errors;
};

eth_rpc *
eth_rpc_open(const char *url)
{
	eth_rpc *r;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		dml_error("%s: not an http:// or https:// URL", url);
		return NULL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = xcalloc(1, sizeof *r);
	r->url = xstrdup(url);
	if (!(r->curl = curl_easy_init())) {
		free(r->url);
		free(r);
		dml_error("curl_easy_init failed");
		return NULL;
	}
	return r;
}

void
eth_rpc_close(eth_rpc *r)
{
	if (!r)
		return;
	curl_easy_cleanup(r->curl);
	free(r->url);
	free(r);
}

void
eth_rpc_errors(eth_rpc *r, const char *const *sigs)
{
	r->errors = sigs;
}

typedef struct membuf {
	char *p;
	size_t n;
} membuf;

static size_t
collect(char *p, size_t size, size_t nm, void *arg)
{
	membuf *b = arg;
	size_t n = size * nm;

	if (b->n + n > (64u << 20))
		return 0;
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

/* An error's static arguments after its name: "(300, 301)", uints in
 * decimal, addresses EIP-55, the rest as 0x hex words; nothing when the
 * data is short of them. */
static void
error_args(const char *sig, const char *words, char *buf, size_t cap)
{
	const char *t = strchr(sig, '(') + 1;
	size_t nw = strlen(words) / 64, i = 0, len = strlen(buf);
	mpz_t z;

	if (*t == ')')
		return;
	mpz_init(z);
	for (; *t && *t != ')' && len + 2 < cap; i++) {
		size_t tl = strcspn(t, ",)");
		char w[65], *v = NULL;
		unsigned char a[20];
		if (i >= nw)
			break;
		memcpy(w, words + 64 * i, 64);
		w[64] = 0;
		if (strncmp(t, "uint", 4) == 0 && mpz_set_str(z, w, 16) == 0)
			v = mpz_get_str(NULL, 10, z);
		else if (tl == 7 && strncmp(t, "address", 7) == 0 &&
		    eth_unhex(w + 24, a, 20) == 0) {
			v = xmalloc(43);
			eth_address_str(a, v);
		} else
			v = xasprintf("0x%s", w);
		len += (size_t)snprintf(buf + len, cap - len, "%s%s",
		    i ? ", " : "(", v);
		free(v);
		t += tl + (t[tl] == ',');
		if (len >= cap)
			len = cap - 1;
	}
	if (i > 0 && len + 1 < cap)
		snprintf(buf + len, cap - len, ")");
	mpz_clear(z);
}

/* The name of a custom error from revert data "0x<selector>...", with its
 * arguments. */
static const char *
error_name(const eth_rpc *r, const char *data, char *buf, size_t cap)
{
	unsigned char sel[4], want[4];

	if (!r->errors || !data || strlen(data) < 10)
		return NULL;
	{
		char h[9];
		memcpy(h, data + 2, 8);
		h[8] = 0;
		if (eth_unhex(h, sel, 4) < 0)
			return NULL;
	}
	for (const char *const *s = r->errors; *s; s++) {
		eth_selector(*s, want);
		if (memcmp(sel, want, 4) == 0) {
			size_t k = strcspn(*s, "(");
			snprintf(buf, cap, "%.*s", (int)k, *s);
			error_args(*s, data + 10, buf, cap);
			return buf;
		}
	}
	return NULL;
}

/* revert data in the shapes nodes send: a string, or {data|result} */
static const char *
revert_data(const json_t *d)
{
	const json_t *x;

	if (json_is_string(d))
		return json_string_value(d);
	if (!json_is_object(d))
		return NULL;
	if ((x = json_object_get(d, "data")) && json_is_string(x))
		return json_string_value(x);
	if ((x = json_object_get(d, "result")) && json_is_string(x))
		return json_string_value(x);
	return NULL;
}

json_t *
eth_rpc_call(eth_rpc *r, const char *method, json_t *params, json_t **errdata)
{
	struct curl_slist *h = NULL;
	membuf b = {0};
	json_t *req, *resp = NULL, *res = NULL, *e;
	char *body, ebuf[CURL_ERROR_SIZE] = "", nbuf[256];
	json_error_t je;
	CURLcode cc;
	long status = 0;

	if (errdata)
		*errdata = NULL;
	req = json_pack("{s:s, s:o, s:I, s:s}", "jsonrpc", "2.0", "params",
	    params ? params : json_array(), "id", (json_int_t)++r->id,
	    "method", method);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(r->curl);
	curl_easy_setopt(r->curl, CURLOPT_URL, r->url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(r->curl);
	curl_slist_free_all(h);
	free(body);
	if (cc != CURLE_OK) {
		dml_error("%s: cannot reach the node: %s", r->url,
		    *ebuf ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	if (!b.p || !(resp = json_loads(b.p, 0, &je)) || !json_is_object(resp)) {
		dml_error("%s: %s: HTTP %ld and no JSON-RPC answer", r->url,
		    method, status);
		goto out;
	}
	if ((e = json_object_get(resp, "error"))) {
		const char *msg = json_string_value(json_object_get(e, "message"));
		json_t *d = json_object_get(e, "data");
		const char *rd = revert_data(d), *name;
		name = error_name(r, rd, nbuf, sizeof nbuf);
		dml_error("%s: %s%s%s", method, msg ? msg : "error",
		    name ? ": " : "", name ? name : "");
		if (errdata && d)
			*errdata = json_incref(d);
		goto out;
	}
	if (!(res = json_object_get(resp, "result"))) {
		dml_error("%s: %s: answer without a result", r->url, method);
		goto out;
	}
	json_incref(res);
out:
	json_decref(resp);
	free(b.p);
	return res;
}

int
eth_quantity(const json_t *j, mpz_t out)
{
	const char *s = json_string_value(j);

	if (!s || strncmp(s, "0x", 2) != 0 || !s[2] ||
	    mpz_set_str(out, s + 2, 16) < 0)
		return dml_error("not a quantity: %s", s ? s : "(not a string)");
	return 0;
}

int
eth_quantity_u64(const json_t *j, uint64_t *out)
{
	mpz_t z;
	int rc = -1;

	mpz_init(z);
	if (eth_quantity(j, z) == 0 && mpz_sizeinbase(z, 2) <= 64) {
		*out = 0;
		for (int i = 1; i >= 0; i--) {
			mpz_t t;
			mpz_init(t);
			mpz_tdiv_q_2exp(t, z, 32 * i);
			mpz_tdiv_r_2exp(t, t, 32);
			*out = *out << 32 | mpz_get_ui(t);
			mpz_clear(t);
		}
		rc = 0;
	} else
		dml_error("not a 64-bit quantity");
	mpz_clear(z);
	return rc;
}

uint64_t
eth_chain_id(eth_rpc *r)
{
	json_t *j = eth_rpc_call(r, "eth_chainId", NULL, NULL);
	uint64_t id = 0;

	if (j && eth_quantity_u64(j, &id) < 0)
		id = 0;
	json_decref(j);
	return id;
}

static json_t *
call_object(const unsigned char *from, const unsigned char *to,
    const unsigned char *data, size_t n)
{
	json_t *o = json_object();
	char *s;

	if (from) {
		s = eth_hex(from, 20);
		json_object_set_new(o, "from", json_string(s));
		free(s);
	}
	if (to) {
		s = eth_hex(to, 20);
		json_object_set_new(o, "to", json_string(s));
		free(s);
	}
	s = eth_hex(data, n);
	json_object_set_new(o, "data", json_string(s));
	free(s);
	return o;
}

int
eth_call(eth_rpc *r, const unsigned char to[20], const unsigned char *data,
    size_t n, unsigned char **out, size_t *nout)
{
	json_t *res = eth_rpc_call(r, "eth_call", json_pack("[o,s]",
	    call_object(NULL, to, data, n), "latest"), NULL);
	const char *s;
	size_t len;

	if (!res)
		return -1;
	s = json_string_value(res);
	if (!s || strncmp(s, "0x", 2) != 0 || (strlen(s) - 2) % 2) {
		json_decref(res);
		return dml_error("eth_call: not hex data");
	}
	len = (strlen(s) - 2) / 2;
	*out = xmalloc(len + 1);
	if (eth_unhex(s, *out, len) < 0) {
		free(*out);
		json_decref(res);
		return -1;
	}
	*nout = len;
	json_decref(res);
	return 0;
}

static int
account_nonce(eth_rpc *r, const unsigned char addr[20], const char *tag,
    uint64_t *n)
{
	char *a = eth_hex(addr, 20);
	json_t *j = eth_rpc_call(r, "eth_getTransactionCount",
	    json_pack("[s,s]", a, tag), NULL);
	int rc = j ? eth_quantity_u64(j, n) : -1;

	free(a);
	json_decref(j);
	return rc;
}

/* fees: 2 x the latest base fee + the node's suggested tip */
static int
fees(eth_rpc *r, mpz_t tip, mpz_t max_fee)
{
	json_t *b, *t;

	b = eth_rpc_call(r, "eth_getBlockByNumber", json_pack("[s,b]",
	    "latest", 0), NULL);
	if (!b)
		return -1;
	if (eth_quantity(json_object_get(b, "baseFeePerGas"), max_fee) < 0) {
		json_decref(b);
		return dml_error("the node's latest block has no base fee "
		    "(EIP-1559 not active)");
	}
	json_decref(b);
	t = eth_rpc_call(r, "eth_maxPriorityFeePerGas", NULL, NULL);
	if (!t || eth_quantity(t, tip) < 0)
		mpz_set_ui(tip, 1000000000);	/* 1 gwei */
	json_decref(t);
	mpz_mul_ui(max_fee, max_fee, 2);
	mpz_add(max_fee, max_fee, tip);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* After a mined revert: replay the call at that block for the reason
 * (the state after the block: what made it fail is there). */
static void
revert_reason(eth_rpc *r, const eth_key *k, const unsigned char *to,
    const unsigned char *data, size_t n, const char *block,
    const char *hhex)
{
	json_t *res = eth_rpc_call(r, "eth_call", json_pack("[o,s]",
	    call_object(k->addr, to, data, n), block), NULL);
	mpz_t b;

	mpz_init(b);
	if (!block || mpz_set_str(b, block + (block[0] == '0' &&
	    block[1] == 'x' ? 2 : 0), 16) < 0)
		mpz_set_ui(b, 0);
	if (res) {
		json_decref(res);
		dml_error("transaction %s was mined in block %lu and reverted "
		    "(status 0)", hhex, mpz_get_ui(b));
	} else
		dml_error_prefix("transaction %s was mined in block %lu and "
		    "reverted (status 0)", hhex, mpz_get_ui(b));
	mpz_clear(b);
}

json_t *
eth_send(eth_rpc *r, const eth_key *k, const unsigned char *to,
    const unsigned char *data, size_t n, const eth_send_opt *o)
{
	eth_tx t;
	rlp_buf raw;
	unsigned char hash[32];
	uint64_t chain, nonce, next, gas;
	json_t *j, *rc = NULL;
	char *hex = NULL, *hhex = NULL, from[43];
	double t0, limit = o && o->timeout > 0 ? o->timeout : 60;

	eth_tx_init(&t);
	rlp_init(&raw);
	eth_address_str(k->addr, from);
	if (!(chain = eth_chain_id(r)))
		goto out;
	if (o && o->chain_id && o->chain_id != chain) {
		dml_error("wrong chain id: the node at %s is chain %llu, not "
		    "%llu", r->url, (unsigned long long)chain,
		    (unsigned long long)o->chain_id);
		goto out;
	}
	if (account_nonce(r, k->addr, "pending", &next) < 0)
		goto out;
	nonce = o && o->nonce >= 0 ? (uint64_t)o->nonce : next;
	if (nonce > next) {
		dml_error("nonce gap: nonce %llu but the next nonce of %s is "
		    "%llu; the transaction would never be mined",
		    (unsigned long long)nonce, from, (unsigned long long)next);
		goto out;
	}
	if (nonce < next && o && o->nonce >= 0) {
		dml_error("nonce %llu of %s is already used (next is %llu)",
		    (unsigned long long)nonce, from, (unsigned long long)next);
		goto out;
	}
	j = eth_rpc_call(r, "eth_estimateGas", json_pack("[o]",
	    call_object(k->addr, to, data, n)), NULL);
	if (!j || eth_quantity_u64(j, &gas) < 0) {
		json_decref(j);
		dml_error_prefix("%s", to ? "the call would fail" :
		    "the deployment would fail");
		goto out;
	}
	json_decref(j);
	if (fees(r, t.tip, t.max_fee) < 0)
		goto out;
	t.chain_id = chain;
	t.nonce = nonce;
	t.gas = gas + gas / 4 + 10000;
	t.create = to == NULL;
	if (to)
		memcpy(t.to, to, 20);
	t.data = data;
	t.ndata = n;
	if (eth_tx_sign(&t, k, &raw, hash) < 0)
		goto out;
	hex = eth_hex(raw.p, raw.n);
	hhex = eth_hex(hash, 32);
	j = eth_rpc_call(r, "eth_sendRawTransaction", json_pack("[s]", hex),
	    NULL);
	if (!j) {
		if (strstr(dml_errmsg(), "insufficient funds"))
			dml_error_prefix("insufficient funds: %s cannot pay gas "
			    "%llu x max fee", from, (unsigned long long)t.gas);
		goto out;
	}
	json_decref(j);
	for (t0 = now(); ; sleep_ms(50)) {
		rc = eth_rpc_call(r, "eth_getTransactionReceipt",
		    json_pack("[s]", hhex), NULL);
		if (!rc && !strstr(dml_errmsg(), "eth_getTransactionReceipt")) {
			/* the node went away: the transaction may or may not
			 * be mined; the caller's rerun must find out */
			dml_error_prefix("transaction %s was sent, its receipt "
			    "is unknown", hhex);
			goto out;
		}
		if (rc && !json_is_null(rc))
			break;
		json_decref(rc);
		rc = NULL;
		if (now() - t0 > limit) {
			dml_error("transaction %s not mined after %.0f s", hhex,
			    limit);
			goto out;
		}
	}
	if (strcmp(json_string_value(json_object_get(rc, "status")) ?
	    json_string_value(json_object_get(rc, "status")) : "", "0x1") != 0) {
		const char *blk = json_string_value(json_object_get(rc,
		    "blockNumber"));
		revert_reason(r, k, to, data, n, blk ? blk : "latest", hhex);
		json_decref(rc);
		rc = NULL;
	}
out:
	free(hex);
	free(hhex);
	rlp_free(&raw);
	eth_tx_clear(&t);
	return rc;
}

json_t *
eth_receipt_logs(const json_t *receipt, const char *event)
{
	unsigned char h[32];
	char *topic;
	json_t *out = json_array(), *lg;
	size_t i;

	keccak256(h, event, strlen(event));
	topic = eth_hex(h, 32);
	json_array_foreach(json_object_get(receipt, "logs"), i, lg) {
		const char *t0 = json_string_value(json_array_get(
		    json_object_get(lg, "topics"), 0));
		if (t0 && strcmp(t0, topic) == 0)
			json_array_append(out, lg);
	}
	free(topic);
	return out;
}
