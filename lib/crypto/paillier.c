/* paillier: keys, fixed-base encryption, CRT decryption, ciphertext
 * tensors. */
#include "paillier.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FB_WIN 6		/* bits of r per table row */

struct paillier_fb {
	int nwin, ent;		/* rows, entries per row (2^FB_WIN) */
	mp_size_t limbs;	/* limbs of an entry (those of n^2) */
	mp_limb_t *tab;		/* [nwin][ent][limbs] */
	mp_limb_t *sel;		/* one selected entry */
};

int
paillier_kappa(int bits)
{
	return bits == 2048 ? 112 : bits == 3072 ? 128 : -1;
}

/* ---- memory that is wiped ---------------------------------------------- */

static void *
wipe_alloc(size_t n)
{
	return xmalloc(n);
}

static void *
wipe_realloc(void *p, size_t old, size_t n)
{
	void *q = xmalloc(n);

	memcpy(q, p, old < n ? old : n);
	sodium_memzero(p, old);
	free(p);
	return q;
}

static void
wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	sodium_memzero(p, n);
	free(p);
}

void
paillier_secure_memory(void)
{
	mp_set_memory_functions(wipe_alloc, wipe_realloc, wipe_free);
}

static void
mpz_wipe(mpz_t x)
{
	if (x->_mp_alloc > 0)
		sodium_memzero(x->_mp_d, (size_t)x->_mp_alloc *
		    sizeof(mp_limb_t));
	mpz_clear(x);
}

/* ---- randomness -------------------------------------------------------- */

static void
drbg_fill(void *ctx, unsigned char *buf, size_t n)
{
	paillier_drbg *d = ctx;
	unsigned char ctr[8], k[32];

	for (int i = 0; i < 8; i++)
		ctr[i] = (unsigned char)(d->ctr >> (8 * i));
	crypto_generichash(k, sizeof k, ctr, sizeof ctr, d->key, sizeof d->key);
	randombytes_buf_deterministic(buf, n, k);
	sodium_memzero(k, sizeof k);
	d->ctr++;
}

void
paillier_drbg_init(paillier_drbg *d, const unsigned char seed[32])
{
	memcpy(d->key, seed, 32);
	d->ctr = 0;
	d->rng.fill = drbg_fill;
	d->rng.ctx = d;
}

static void
fill(const paillier_rng *rng, unsigned char *buf, size_t n)
{
	if (rng)
		rng->fill(rng->ctx, buf, n);
	else
		randombytes_buf(buf, n);
}

/* x uniform in [0, 2^bits), bits <= 3072 (the buffer is wiped). */
static void
random_bits(mpz_t x, int bits, const paillier_rng *rng)
{
	unsigned char b[384];
	size_t n = ((size_t)bits + 7) / 8;

	fill(rng, b, n);
	mpz_import(x, n, 1, 1, 1, 0, b);
	mpz_tdiv_r_2exp(x, x, (mp_bitcnt_t)bits);
	sodium_memzero(b, n);
}

/* ---- public keys -------------------------------------------------------- */

static void
key_id(const mpz_t n, char kid[PAILLIER_KIDLEN + 1])
{
	char *s = mpz_get_str(NULL, 10, n);
	unsigned char h[crypto_hash_sha256_BYTES];
	void (*freefn)(void *, size_t);

	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	sodium_bin2hex(kid, PAILLIER_KIDLEN + 1, h, sizeof h);
	mp_get_memory_functions(NULL, NULL, &freefn);
	freefn(s, strlen(s) + 1);
}

int
paillier_pk_init(paillier_pk *pk, const mpz_t n, const mpz_t hs)
{
	mpz_t g;
	int ok;

	memset(pk, 0, sizeof *pk);
	mpz_init_set(pk->n, n);
	mpz_init(pk->n2);
	mpz_init_set(pk->hs, hs);
	pk->bits = (int)mpz_sizeinbase(n, 2);
	if (mpz_sgn(n) <= 0 || (pk->kappa = paillier_kappa(pk->bits)) < 0)
		return dml_error("the modulus has %d bits, not 2048 or 3072",
		    mpz_sgn(n) > 0 ? pk->bits : 0);
	if (mpz_even_p(n) || mpz_perfect_square_p(n))
		return dml_error("the modulus is not a product of two odd "
		    "primes");
	mpz_mul(pk->n2, n, n);
	pk->rbits = 2 * pk->kappa;
	pk->ctbytes = (size_t)pk->bits / 4;
	key_id(n, pk->kid);
	mpz_init(g);
	mpz_gcd(g, hs, n);
	ok = mpz_sgn(hs) > 0 && mpz_cmp(hs, pk->n2) < 0 &&
	    mpz_cmp_ui(g, 1) == 0;
	mpz_clear(g);
	if (!ok)
		return dml_error("\"hs\" is not a unit below n^2");
	return 0;
}

void
paillier_pk_clear(paillier_pk *pk)
{
	if (pk->fb) {
		free(pk->fb->tab);
		free(pk->fb->sel);
		free(pk->fb);
		pk->fb = NULL;
	}
	if (pk->n->_mp_d) {
		mpz_clear(pk->n);
		mpz_clear(pk->n2);
		mpz_clear(pk->hs);
	}
	memset(pk, 0, sizeof *pk);
}

/* A decimal string of a positive integer, canonical: digits only, no
 * leading zero, at most `maxdigits`. */
static int
decimal(const char *s, size_t maxdigits)
{
	size_t n = strlen(s);

	return n > 0 && n <= maxdigits && strspn(s, "0123456789") == n &&
	    s[0] != '0';
}

int
paillier_pk_from_json(paillier_pk *pk, const rec_in *in, const json_t *o)
{
	const char *ns, *hss, *kid;
	long long bits;
	mpz_t n, hs;
	int rc;

	memset(pk, 0, sizeof *pk);
	if (!json_is_object(o))
		return rec_err(in, "a Paillier public key must be an object");
	if (rec_get_int(in, o, "bits", 0, 1 << 20, &bits) < 0 ||
	    rec_get_str(in, o, "n", &ns) < 0 ||
	    rec_get_str(in, o, "hs", &hss) < 0 ||
	    rec_get_str(in, o, "kid", &kid) < 0)
		return -1;
	if (bits != 2048 && bits != 3072)
		return rec_err(in, "Paillier key of %lld bits: 2048 or 3072 "
		    "are supported", bits);
	if (!decimal(ns, 1000) || !decimal(hss, 2000))
		return rec_err(in, "Paillier key: \"n\" and \"hs\" must be "
		    "decimal strings without leading zeros");
	mpz_init_set_str(n, ns, 10);
	mpz_init_set_str(hs, hss, 10);
	rc = paillier_pk_init(pk, n, hs);
	mpz_clear(n);
	mpz_clear(hs);
	if (rc < 0)
		return rec_err(in, "Paillier key: %s", dml_errmsg());
	if (pk->bits != bits)
		return rec_err(in, "Paillier key: \"bits\" is %lld, n has %d",
		    bits, pk->bits);
	if (strcmp(kid, pk->kid) != 0)
		return rec_err(in, "Paillier key: \"kid\" does not match n");
	return 0;
}

json_t *
paillier_pk_json(const paillier_pk *pk)
{
	char *n = mpz_get_str(NULL, 10, pk->n), *hs = mpz_get_str(NULL, 10,
	    pk->hs);
	json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "bits", pk->bits, "hs", hs,
	    "kid", pk->kid, "n", n);
	void (*freefn)(void *, size_t);

	mp_get_memory_functions(NULL, NULL, &freefn);
	freefn(n, strlen(n) + 1);
	freefn(hs, strlen(hs) + 1);
	return o;
}

json_t *
paillier_pk_record(const paillier_pk *pk, const char *name)
{
	json_t *r = rec_new("dml.paillier.pubkey"), *o = paillier_pk_json(pk);

	json_object_update(r, o);
	json_decref(o);
	if (name)
		json_object_set_new(r, "name", json_string(name));
	return r;
}

/* ---- secret keys -------------------------------------------------------- */

static paillier_sk *
sk_new(void)
{
	paillier_sk *sk = sodium_malloc(sizeof *sk);

	if (!sk)
		dml_die(DML_EXIT_USAGE, "out of secure memory");
	memset(sk, 0, sizeof *sk);
	mpz_inits(sk->p, sk->q, sk->p2, sk->q2, sk->pm1, sk->qm1, sk->hp,
	    sk->hq, sk->qinv, NULL);
	return sk;
}

void
paillier_sk_free(paillier_sk *sk)
{
	if (!sk)
		return;
	mpz_wipe(sk->p);
	mpz_wipe(sk->q);
	mpz_wipe(sk->p2);
	mpz_wipe(sk->q2);
	mpz_wipe(sk->pm1);
	mpz_wipe(sk->qm1);
	mpz_wipe(sk->hp);
	mpz_wipe(sk->hq);
	mpz_wipe(sk->qinv);
	paillier_pk_clear(&sk->pk);
	sodium_free(sk);	/* wipes the struct */
}

/* h_p = (-q)^-1 mod p: with g = n + 1, L_p(g^(p-1) mod p^2) = -q mod p. */
static int
neg_inverse(mpz_t h, const mpz_t p, const mpz_t q)
{
	mpz_mod(h, q, p);
	mpz_sub(h, p, h);
	return mpz_invert(h, h, p) ? 0 : -1;
}

/* Everything decryption needs from p and q (set). */
static int
sk_derive(paillier_sk *sk)
{
	mpz_mul(sk->p2, sk->p, sk->p);
	mpz_mul(sk->q2, sk->q, sk->q);
	mpz_sub_ui(sk->pm1, sk->p, 1);
	mpz_sub_ui(sk->qm1, sk->q, 1);
	if (neg_inverse(sk->hp, sk->p, sk->q) < 0 ||
	    neg_inverse(sk->hq, sk->q, sk->p) < 0 ||
	    !mpz_invert(sk->qinv, sk->q, sk->p))
		return dml_error("p and q are not coprime");
	return 0;
}

/* A random prime of `bits` bits, top two bits set, = 3 mod 4. */
static void
random_prime(mpz_t p, int bits, const paillier_rng *rng)
{
	do {
		random_bits(p, bits, rng);
		mpz_setbit(p, (mp_bitcnt_t)bits - 1);
		mpz_setbit(p, (mp_bitcnt_t)bits - 2);
		mpz_setbit(p, 1);
		mpz_setbit(p, 0);
	} while (mpz_probab_prime_p(p, 32) == 0);
}

paillier_sk *
paillier_keygen(int bits, const paillier_rng *rng)
{
	paillier_sk *sk;
	mpz_t n, x, h, hs, phi;
	int rc;

	if (paillier_kappa(bits) < 0)
		return dml_error("Paillier keys of %d bits: 2048 or 3072 are "
		    "supported", bits), NULL;
	sk = sk_new();
	mpz_inits(n, x, h, hs, phi, NULL);
	for (;;) {
		random_prime(sk->p, bits / 2, rng);
		do
			random_prime(sk->q, bits / 2, rng);
		while (mpz_cmp(sk->p, sk->q) == 0);
		mpz_mul(n, sk->p, sk->q);
		mpz_sub_ui(x, sk->p, 1);
		mpz_sub_ui(h, sk->q, 1);
		mpz_mul(phi, x, h);
		mpz_gcd(x, n, phi);
		/* equal-sized primes make gcd(n, phi) = 1; check anyway */
		if ((int)mpz_sizeinbase(n, 2) == bits && mpz_cmp_ui(x, 1) == 0)
			break;
	}
	/* h = -x^2 mod n for a random unit x; hs = h^n mod n^2 */
	do {
		random_bits(x, bits, rng);
		mpz_mod(x, x, n);
		mpz_gcd(h, x, n);
	} while (mpz_cmp_ui(x, 1) <= 0 || mpz_cmp_ui(h, 1) != 0);
	mpz_mul(h, x, x);
	mpz_mod(h, h, n);
	mpz_sub(h, n, h);
	mpz_mul(hs, n, n);
	mpz_powm(hs, h, n, hs);
	rc = paillier_pk_init(&sk->pk, n, hs);
	if (rc == 0)
		rc = sk_derive(sk);
	mpz_wipe(x);
	mpz_wipe(h);
	mpz_wipe(phi);
	mpz_clear(n);
	mpz_clear(hs);
	if (rc < 0) {
		paillier_sk_free(sk);
		return NULL;
	}
	return sk;
}

/* Append a decimal number to a sodium buffer. */
static void
put_num(char *buf, size_t *o, const char *key, const mpz_t x, int comma)
{
	*o += (size_t)sprintf(buf + *o, "\"%s\":\"", key);
	mpz_get_str(buf + *o, 10, x);
	*o += strlen(buf + *o);
	*o += (size_t)sprintf(buf + *o, "\"%s", comma ? "," : "");
}

int
paillier_sk_save(const char *path, const paillier_sk *sk)
{
	size_t cap = 256 + mpz_sizeinbase(sk->pk.n, 10) +
	    mpz_sizeinbase(sk->pk.hs, 10) + mpz_sizeinbase(sk->p, 10) +
	    mpz_sizeinbase(sk->q, 10), o = 0;
	char *buf = sodium_malloc(cap);
	int rc;

	if (!buf)
		return dml_error("out of secure memory");
	o += (size_t)sprintf(buf, "{\"bits\":%d,", sk->pk.bits);
	put_num(buf, &o, "hs", sk->pk.hs, 1);
	o += (size_t)sprintf(buf + o, "\"kid\":\"%s\",", sk->pk.kid);
	put_num(buf, &o, "n", sk->pk.n, 1);
	put_num(buf, &o, "p", sk->p, 1);
	put_num(buf, &o, "q", sk->q, 1);
	o += (size_t)sprintf(buf + o, "\"type\":\"dml.paillier.secretkey\","
	    "\"v\":1}\n");
	rc = dml_create_file(path, buf, o, 0600);
	sodium_free(buf);
	return rc;
}

/* The value of "key":"..." in a flat one-line object, copied NUL-ended
 * into dst (a sodium buffer of cap bytes). */
static int
sk_field(const char *s, const char *key, char *dst, size_t cap)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	if (!(p = strstr(s, pat)))
		return -1;
	p += strlen(pat);
	if (!(e = strchr(p, '"')) || (size_t)(e - p) >= cap)
		return -1;
	memcpy(dst, p, (size_t)(e - p));
	dst[e - p] = 0;
	return 0;
}

/* Is hs an n-th residue? Then hs^(p-1) = 1 mod p^2 (and mod q^2). */
static int
nth_residue(const mpz_t hs, const mpz_t p2, const mpz_t pm1)
{
	mpz_t t;
	int ok;

	mpz_init(t);
	mpz_mod(t, hs, p2);
	mpz_powm_sec(t, t, pm1, p2);
	ok = mpz_cmp_ui(t, 1) == 0;
	mpz_clear(t);
	return ok;
}

static int
sk_check(paillier_sk *sk, const char *bits, const char *kid)
{
	mpz_t n;
	int ok;

	if (mpz_probab_prime_p(sk->p, 25) == 0 ||
	    mpz_probab_prime_p(sk->q, 25) == 0 || mpz_cmp(sk->p, sk->q) == 0)
		return dml_error("\"p\" and \"q\" are not two distinct primes");
	mpz_init(n);
	mpz_mul(n, sk->p, sk->q);
	ok = mpz_cmp(n, sk->pk.n) == 0;
	mpz_clear(n);
	if (!ok)
		return dml_error("\"n\" is not p q");
	if (atoi(bits) != sk->pk.bits || strcmp(kid, sk->pk.kid) != 0)
		return dml_error("\"bits\" or \"kid\" does not match n");
	if (sk_derive(sk) < 0)
		return -1;
	if (!nth_residue(sk->pk.hs, sk->p2, sk->pm1) ||
	    !nth_residue(sk->pk.hs, sk->q2, sk->qm1))
		return dml_error("\"hs\" is not an n-th residue");
	return 0;
}

paillier_sk *
paillier_sk_load(const char *path)
{
	enum { CAP = 1 << 16 };
	char *buf = NULL, *num = NULL, bits[16], kid[PAILLIER_KIDLEN + 1];
	paillier_sk *sk = NULL;
	mpz_t n, hs;
	size_t len = 0;
	ssize_t r;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dml_error_sys("%s", path), NULL;
	buf = sodium_malloc(CAP);
	num = sodium_malloc(CAP);
	if (!buf || !num) {
		dml_error("out of secure memory");
		goto out;
	}
	while (len < CAP - 1 && (r = read(fd, buf + len, CAP - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dml_error_sys("%s", path);
			goto out;
		}
		len += (size_t)r;
	}
	buf[len] = 0;
	if (!strstr(buf, "\"type\":\"dml.paillier.secretkey\"")) {
		dml_error("%s:1: not a Paillier secret key file "
		    "(dml.paillier.secretkey)", path);
		goto out;
	}
	{	/* "bits" is a number: copy its digits */
		const char *b = strstr(buf, "\"bits\":");
		size_t k = b ? strspn(b + 7, "0123456789") : 0;
		if (!k || k >= sizeof bits) {
			dml_error("%s:1: bad or missing \"bits\"", path);
			goto out;
		}
		memcpy(bits, b + 7, k);
		bits[k] = 0;
	}
	sk = sk_new();
	mpz_inits(n, hs, NULL);
	if (sk_field(buf, "kid", kid, sizeof kid) < 0 ||
	    sk_field(buf, "n", num, CAP) < 0 || !decimal(num, 1000) ||
	    mpz_set_str(n, num, 10) < 0 ||
	    sk_field(buf, "hs", num, CAP) < 0 || !decimal(num, 2000) ||
	    mpz_set_str(hs, num, 10) < 0 ||
	    sk_field(buf, "p", num, CAP) < 0 || !decimal(num, 1000) ||
	    mpz_set_str(sk->p, num, 10) < 0 ||
	    sk_field(buf, "q", num, CAP) < 0 || !decimal(num, 1000) ||
	    mpz_set_str(sk->q, num, 10) < 0)
		dml_error("%s:1: a field (bits, hs, kid, n, p, q) is missing or "
		    "not a decimal string", path);
	else if (paillier_pk_init(&sk->pk, n, hs) < 0 ||
	    sk_check(sk, bits, kid) < 0)
		dml_error_prefix("%s:1", path);
	else
		rc = 0;
	mpz_clear(n);
	mpz_clear(hs);
out:
	close(fd);
	if (buf)
		sodium_free(buf);
	if (num)
		sodium_free(num);
	if (rc < 0) {
		paillier_sk_free(sk);
		return NULL;
	}
	return sk;
}

int
paillier_pk_load(paillier_pk *pk, const char *path)
{
	enum { CAP = 1 << 16 };
	char *buf;
	size_t len = 0;
	ssize_t n;
	json_t *r;
	json_error_t je;
	int fd, rc;

	memset(pk, 0, sizeof *pk);
	/* it may be a secret key file: read it into memory that is wiped */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dml_error_sys("%s", path);
	if (!(buf = sodium_malloc(CAP))) {
		close(fd);
		return dml_error("out of secure memory");
	}
	while (len < CAP - 1 && (n = read(fd, buf + len, CAP - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = dml_error_sys("%s", path);
			close(fd);
			sodium_free(buf);
			return rc;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	if (strstr(buf, "\"dml.paillier.secretkey\"")) {
		paillier_sk *sk;
		sodium_free(buf);
		if (!(sk = paillier_sk_load(path)))
			return -1;
		rc = paillier_pk_init(pk, sk->pk.n, sk->pk.hs);
		paillier_sk_free(sk);
		return rc;
	}
	r = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &je);
	sodium_free(buf);
	if (!r)
		return dml_error("%s:%d: malformed JSON: %s", path, je.line,
		    je.text);
	rc = rec_check(NULL, r, "dml.paillier.pubkey") < 0 ? -1 :
	    paillier_pk_from_json(pk, NULL, r);
	json_decref(r);
	if (rc < 0)
		dml_error_prefix("%s:1", path);
	return rc;
}

/* ---- encryption ---------------------------------------------------------- */

static void
fb_store(paillier_fb *fb, int j, int v, const mpz_t x)
{
	mp_limb_t *e = fb->tab + ((size_t)j * (size_t)fb->ent + (size_t)v) *
	    (size_t)fb->limbs;
	size_t k = mpz_size(x);

	memcpy(e, mpz_limbs_read(x), k * sizeof *e);
	memset(e + k, 0, ((size_t)fb->limbs - k) * sizeof *e);
}

/* Row j holds hs^(v 2^(6 j)) for v < 64. */
static paillier_fb *
fb_build(const paillier_pk *pk)
{
	paillier_fb *fb = xcalloc(1, sizeof *fb);
	mpz_t base, x, t;

	fb->nwin = (pk->rbits + FB_WIN - 1) / FB_WIN;
	fb->ent = 1 << FB_WIN;
	fb->limbs = (mp_size_t)mpz_size(pk->n2);
	fb->tab = xmalloc((size_t)fb->nwin * (size_t)fb->ent *
	    (size_t)fb->limbs * sizeof *fb->tab);
	fb->sel = xmalloc((size_t)fb->limbs * sizeof *fb->sel);
	mpz_init_set(base, pk->hs);
	mpz_inits(x, t, NULL);
	for (int j = 0; j < fb->nwin; j++) {
		mpz_set_ui(x, 1);
		fb_store(fb, j, 0, x);
		for (int v = 1; v < fb->ent; v++) {
			mpz_mul(t, x, base);
			mpz_tdiv_r(x, t, pk->n2);
			fb_store(fb, j, v, x);
		}
		mpz_mul(t, x, base);
		mpz_tdiv_r(base, t, pk->n2);	/* base^(2^6) */
	}
	mpz_clears(base, x, t, NULL);
	return fb;
}

/* FB_WIN bits of r from bit `pos` on. */
static unsigned
digit(const mpz_t r, mp_bitcnt_t pos)
{
	size_t i = pos / GMP_NUMB_BITS, off = pos % GMP_NUMB_BITS;
	mp_limb_t w = mpz_getlimbn(r, (mp_size_t)i) >> off;

	if (off + FB_WIN > GMP_NUMB_BITS)
		w |= mpz_getlimbn(r, (mp_size_t)i + 1) << (GMP_NUMB_BITS - off);
	return (unsigned)(w & ((1u << FB_WIN) - 1));
}

/* out = hs^r mod n^2 for 0 <= r < 2^(6 nwin), by the table. */
static void
fixed_pow(const paillier_pk *pk, mpz_t out, const mpz_t r)
{
	paillier_fb *fb = pk->fb;
	mpz_t t;
	mpz_t view;

	if (!fb)	/* lazily: a verifying node never encrypts */
		fb = ((paillier_pk *)pk)->fb = fb_build(pk);
	mpz_init(t);
	for (int j = 0; j < fb->nwin; j++) {
		mpn_sec_tabselect(fb->sel, fb->tab + (size_t)j *
		    (size_t)fb->ent * (size_t)fb->limbs, fb->limbs,
		    fb->ent, digit(r, (mp_bitcnt_t)j * FB_WIN));
		mpz_roinit_n(view, fb->sel, fb->limbs);
		if (j == 0) {
			mpz_set(out, view);
			continue;
		}
		mpz_mul(t, out, view);
		mpz_tdiv_r(out, t, pk->n2);
	}
	mpz_clear(t);
}

/* c = (1 + m n) t mod n^2 = t + n (m t mod n) for t < n^2. */
static void
with_message(const paillier_pk *pk, mpz_t c, const mpz_t m, const mpz_t t)
{
	mpz_t u;

	mpz_init(u);
	mpz_tdiv_r(u, t, pk->n);
	mpz_mul(u, u, m);
	mpz_tdiv_r(u, u, pk->n);
	mpz_mul(u, u, pk->n);
	mpz_add(c, t, u);
	if (mpz_cmp(c, pk->n2) >= 0)
		mpz_sub(c, c, pk->n2);
	mpz_clear(u);
}

void
paillier_encrypt_r(const paillier_pk *pk, mpz_t c, const mpz_t m,
    const mpz_t r)
{
	mpz_t t;

	mpz_init(t);
	if (mpz_sizeinbase(r, 2) <= (size_t)pk->rbits)
		fixed_pow(pk, t, r);
	else
		mpz_powm(t, pk->hs, r, pk->n2);
	with_message(pk, c, m, t);
	mpz_clear(t);
}

void
paillier_encrypt(const paillier_pk *pk, mpz_t c, const mpz_t m,
    const paillier_rng *rng)
{
	mpz_t r, t;

	mpz_inits(r, t, NULL);
	random_bits(r, pk->rbits, rng);
	fixed_pow(pk, t, r);
	mpz_wipe(r);
	with_message(pk, c, m, t);
	mpz_wipe(t);
}

void
paillier_rerandomize(const paillier_pk *pk, mpz_t c, const paillier_rng *rng)
{
	mpz_t r, t;

	mpz_inits(r, t, NULL);
	random_bits(r, pk->rbits, rng);
	fixed_pow(pk, t, r);
	mpz_mul(t, t, c);
	mpz_tdiv_r(c, t, pk->n2);
	mpz_wipe(r);
	mpz_wipe(t);
}

int
paillier_valid(const paillier_pk *pk, const mpz_t c)
{
	mpz_t g;
	int ok;

	if (mpz_sgn(c) <= 0 || mpz_cmp(c, pk->n2) >= 0)
		return 0;
	mpz_init(g);
	mpz_gcd(g, c, pk->n);
	ok = mpz_cmp_ui(g, 1) == 0;
	mpz_clear(g);
	return ok;
}

/* m mod p from c: L_p(c^(p-1) mod p^2) h_p mod p. -1 if p | c. */
static int
half_decrypt(mpz_t out, const mpz_t c, const mpz_t p, const mpz_t p2,
    const mpz_t pm1, const mpz_t hp)
{
	mpz_mod(out, c, p2);
	if (mpz_divisible_p(out, p))
		return -1;
	mpz_powm_sec(out, out, pm1, p2);
	mpz_sub_ui(out, out, 1);
	mpz_divexact(out, out, p);
	mpz_mul(out, out, hp);
	mpz_mod(out, out, p);
	return 0;
}

int
paillier_decrypt(const paillier_sk *sk, mpz_t m, const mpz_t c)
{
	mpz_t mp, mq;
	int rc = 0;

	if (mpz_sgn(c) <= 0 || mpz_cmp(c, sk->pk.n2) >= 0)
		return dml_error("not a ciphertext: not in [1, n^2)");
	mpz_inits(mp, mq, NULL);
	if (half_decrypt(mp, c, sk->p, sk->p2, sk->pm1, sk->hp) < 0 ||
	    half_decrypt(mq, c, sk->q, sk->q2, sk->qm1, sk->hq) < 0)
		rc = dml_error("not a ciphertext: not prime to n");
	else {
		mpz_sub(mp, mp, mq);
		mpz_mul(mp, mp, sk->qinv);
		mpz_mod(mp, mp, sk->p);
		mpz_mul(mp, mp, sk->q);
		mpz_add(m, mq, mp);
	}
	mpz_wipe(mp);
	mpz_wipe(mq);
	return rc;
}

void
paillier_add(const paillier_pk *pk, mpz_t c, const mpz_t a, const mpz_t b)
{
	mpz_mul(c, a, b);
	mpz_tdiv_r(c, c, pk->n2);
}

void
paillier_scale(const paillier_pk *pk, mpz_t c, const mpz_t a, const mpz_t k)
{
	mpz_t e, b;

	mpz_inits(e, b, NULL);
	mpz_abs(e, k);
	mpz_set(b, a);
	if (mpz_sgn(k) < 0 && !mpz_invert(b, b, pk->n2))
		mpz_set_ui(b, 0);	/* not a valid ciphertext */
	mpz_powm(c, b, e, pk->n2);
	mpz_clears(e, b, NULL);
}

void
paillier_ct_export(const paillier_pk *pk, unsigned char *b, const mpz_t c)
{
	size_t k = (mpz_sizeinbase(c, 2) + 7) / 8;

	if (mpz_sgn(c) == 0)
		k = 0;
	memset(b, 0, pk->ctbytes - k);
	if (k)
		mpz_export(b + pk->ctbytes - k, &k, 1, 1, 1, 0, c);
}

int
paillier_ct_import(const paillier_pk *pk, mpz_t c, const unsigned char *b)
{
	mpz_import(c, pk->ctbytes, 1, 1, 1, 0, b);
	return mpz_cmp(c, pk->n2) < 0 ? 0 : -1;
}

/* ---- ciphertext tensors ------------------------------------------------- */

int
ptensor_is(const json_t *t)
{
	json_t *d = json_object_get(t, "dtype");

	return json_is_string(d) && strcmp(json_string_value(d), "paillier")
	    == 0;
}

static int
tget(const rec_in *in, const json_t *t, const char *field, const char *key,
    long long lo, long long hi, long long *out)
{
	json_t *v = json_object_get(t, key);

	if (!v)
		return rec_err(in, "tensor \"%s\": missing field \"%s\"", field,
		    key);
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return rec_err(in, "tensor \"%s\": \"%s\" must be an integer in "
		    "[%lld, %lld]", field, key, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

int
ptensor_header(const rec_in *in, const json_t *t, const char *field,
    const paillier_pk *pk, ptensor *h)
{
	json_t *shape, *kid, *data, *v;
	long long x;
	size_t i;

	memset(h, 0, sizeof *h);
	if (!json_is_object(t) || !ptensor_is(t))
		return rec_err(in, "tensor \"%s\" must be an object with "
		    "\"dtype\":\"paillier\"", field);
	kid = json_object_get(t, "kid");
	if (!json_is_string(kid) || json_string_length(kid) != PAILLIER_KIDLEN ||
	    strspn(json_string_value(kid), "0123456789abcdef") !=
	    PAILLIER_KIDLEN)
		return rec_err(in, "tensor \"%s\": \"kid\" must be 64 lower-case "
		    "hex digits", field);
	memcpy(h->kid, json_string_value(kid), PAILLIER_KIDLEN + 1);
	if (strcmp(h->kid, pk->kid) != 0)
		return rec_err(in, "tensor \"%s\": encrypted to Paillier key "
		    "%.16s..., not to key %.16s...", field, h->kid, pk->kid);
	shape = json_object_get(t, "shape");
	if (!json_is_array(shape) || json_array_size(shape) > TENSOR_MAXDIM)
		return rec_err(in, "tensor \"%s\": \"shape\" must be an array of "
		    "at most %d dimensions", field, TENSOR_MAXDIM);
	h->n = 1;
	json_array_foreach(shape, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (1LL << 40))
			return rec_err(in, "tensor \"%s\": bad dimension %zu",
			    field, i);
		h->shape[i] = json_integer_value(v);
		h->n *= (size_t)h->shape[i];
		if (h->n > (1ULL << 40))
			return rec_err(in, "tensor \"%s\": too large", field);
	}
	h->ndim = (int)json_array_size(shape);
	if (tget(in, t, field, "width", 2, FXP_MAXWIDTH, &x) < 0)
		return -1;
	h->width = (int)x;
	if (tget(in, t, field, "slots", 1, (pk->bits - 2) / h->width, &x) < 0)
		return -1;
	h->slots = (int)x;
	if (tget(in, t, field, "frac_bits", 0, 126, &x) < 0 ||
	    tget(in, t, field, "summands", 1, FXP_MAXSUMMANDS, &h->summands) <
	    0)
		return -1;
	h->frac = (int)x;
	h->nct = (h->n + (size_t)h->slots - 1) / (size_t)h->slots;
	data = json_object_get(t, "data");
	if (!data)
		return rec_err(in, "tensor \"%s\": missing field \"data\"",
		    field);
	if (rec_str(in, data, &h->b64, &h->b64len) < 0)
		return rec_err(in, "tensor \"%s\": \"data\" must be a string",
		    field);
	if (h->b64len != b64_enclen(h->nct * pk->ctbytes))
		return rec_err(in, "tensor \"%s\": data holds %zu base64 "
		    "characters, %zu ciphertexts of %zu bytes need %zu "
		    "(truncated?)", field, h->b64len, h->nct, pk->ctbytes,
		    b64_enclen(h->nct * pk->ctbytes));
	return 0;
}

int
ptensor_bytes(const ptensor *h, const paillier_pk *pk, unsigned char *buf)
{
	return b64_decode(buf, h->b64, h->b64len) == (long long)(h->nct *
	    pk->ctbytes) ? 0 : -1;
}

static json_t *
header_json(const ptensor *h, const char *b64, size_t len)
{
	json_t *t = json_object(), *sh = json_array();

	for (int i = 0; i < h->ndim; i++)
		json_array_append_new(sh, json_integer(h->shape[i]));
	json_object_set_new(t, "dtype", json_string("paillier"));
	json_object_set_new(t, "kid", json_string(h->kid));
	json_object_set_new(t, "shape", sh);
	json_object_set_new(t, "slots", json_integer(h->slots));
	json_object_set_new(t, "width", json_integer(h->width));
	json_object_set_new(t, "frac_bits", json_integer(h->frac));
	json_object_set_new(t, "summands", json_integer(h->summands));
	json_object_set_new(t, "data", json_stringn_nocheck(b64, len));
	return t;
}

static json_t *
bytes_json(const ptensor *h, const unsigned char *bytes, size_t nbytes)
{
	char *b64 = xmalloc(b64_enclen(nbytes) + 1);
	json_t *t;

	b64_encode(b64, bytes, nbytes);
	t = header_json(h, b64, b64_enclen(nbytes));
	free(b64);
	return t;
}

json_t *
ptensor_json(const paillier_pk *pk, const ptensor *h, mpz_t *ct)
{
	unsigned char *b = xmalloc(h->nct * pk->ctbytes + 1);
	json_t *t;

	for (size_t i = 0; i < h->nct; i++)
		paillier_ct_export(pk, b + i * pk->ctbytes, ct[i]);
	t = bytes_json(h, b, h->nct * pk->ctbytes);
	free(b);
	return t;
}

json_t *
ptensor_encrypt(const paillier_pk *pk, const fxp_layout *l, const double *x,
    int ndim, const int64_t *shape, const paillier_rng *rng)
{
	ptensor h;
	int64_t v[FXP_MAXSLOTS], max = fxp_max_value(l);
	unsigned char *b;
	mpz_t m, c;
	json_t *t;

	memset(&h, 0, sizeof h);
	h.ndim = ndim;
	h.n = 1;
	for (int i = 0; i < ndim; i++) {
		h.shape[i] = shape[i];
		h.n *= (size_t)shape[i];
	}
	h.slots = l->slots;
	h.width = l->width;
	h.frac = l->frac;
	h.summands = 1;
	memcpy(h.kid, pk->kid, sizeof h.kid);
	h.nct = (h.n + (size_t)h.slots - 1) / (size_t)h.slots;
	for (size_t i = 0; i < h.n; i++)
		if (fxp_encode(x[i], l->frac, max, &v[0]) < 0)
			return dml_error("element %zu is %.17g: not finite or "
			    "outside the layout's bound |x| < 2^%d", i, x[i],
			    l->ibits), NULL;
	b = xmalloc(h.nct * pk->ctbytes + 1);
	mpz_inits(m, c, NULL);
	for (size_t j = 0; j < h.nct; j++) {
		size_t base = j * (size_t)h.slots;
		int k = 0;
		for (; k < h.slots && base + (size_t)k < h.n; k++)
			fxp_encode(x[base + (size_t)k], l->frac, max, &v[k]);
		fxp_pack(m, v, k, h.width, pk->n);
		paillier_encrypt(pk, c, m, rng);
		paillier_ct_export(pk, b + j * pk->ctbytes, c);
	}
	mpz_wipe(m);
	mpz_clear(c);
	t = bytes_json(&h, b, h.nct * pk->ctbytes);
	free(b);
	return t;
}

int
ptensor_decrypt(const paillier_sk *sk, const rec_in *in, const char *field,
    const ptensor *h, int64_t bound, double *out)
{
	const paillier_pk *pk = &sk->pk;
	unsigned char *b = xmalloc(b64_declen(h->b64len) + 1);
	int64_t v[FXP_MAXSLOTS];
	mpz_t c, m;
	int rc = -1;

	mpz_inits(c, m, NULL);
	if (ptensor_bytes(h, pk, b) < 0) {
		rec_err(in, "tensor \"%s\": bad base64 in \"data\"", field);
		goto out;
	}
	for (size_t j = 0; j < h->nct; j++) {
		size_t base = j * (size_t)h->slots;
		if (paillier_ct_import(pk, c, b + j * pk->ctbytes) < 0) {
			rec_err(in, "tensor \"%s\": ciphertext %zu is not below "
			    "n^2 (not canonical)", field, j);
			goto out;
		}
		if (paillier_decrypt(sk, m, c) < 0) {
			rec_err(in, "tensor \"%s\": ciphertext %zu: %s", field,
			    j, dml_errmsg());
			goto out;
		}
		if (fxp_unpack(v, h->slots, h->width, m, pk->n) < 0) {
			rec_err(in, "tensor \"%s\": ciphertext %zu does not hold "
			    "%d slots of %d bits (wrong key, overflow or "
			    "tampering)", field, j, h->slots, h->width);
			goto out;
		}
		for (int k = 0; k < h->slots; k++) {
			int used = base + (size_t)k < h->n;
			int64_t a = v[k] < 0 ? -v[k] : v[k];
			if ((!used && v[k] != 0) || (bound > 0 &&
			    (a / h->summands > bound || (a / h->summands ==
			    bound && a % h->summands != 0)))) {
				rec_err(in, "tensor \"%s\": ciphertext %zu slot "
				    "%d is out of range for %lld summands "
				    "(wrong key, overflow or tampering)", field,
				    j, k, h->summands);
				goto out;
			}
			if (used)
				out[base + (size_t)k] = ldexp((double)v[k],
				    -h->frac);
		}
	}
	rc = 0;
out:
	mpz_wipe(m);
	mpz_clear(c);
	free(b);
	return rc;
}
