/* Unit tests of lib/fixedpoint and lib/paillier: known answers for key
 * generation from a fixed seed and for encryption with fixed randomness,
 * decryption checked against the textbook formula, homomorphic properties
 * on random inputs, packed slots, and the refusal of bad ciphertexts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paillier.h"
#include "sign.h"
#include "dmltest.h"
#include "util.h"

static paillier_sk *sk, *sk2;

static void
hexdigest(const unsigned char *b, size_t n, char out[65])
{
	unsigned char h[32];

	crypto_hash_sha256(h, b, n);
	sodium_bin2hex(out, 65, h, 32);
}

static void
test_fixedpoint(void)
{
	fxp_layout l;
	int64_t v, in[8], out[8];
	mpz_t n, m;

	ok(fxp_layout_init(&l, 16, 14, 256, 2048) == 0 && l.width == 39 &&
	    l.slots == 52, "default layout: 39-bit slots, 52 per 2048-bit "
	    "plaintext");
	ok(fxp_layout_init(&l, 20, 16, 1000, 2048) == 0 && l.width == 47 &&
	    l.slots == 43, "width = int + frac + ceil(log2 S) + 1");
	ok(fxp_layout_init(&l, 30, 30, 1 << 20, 2048) < 0 &&
	    strstr(dml_errmsg(), "more than 63"), "slots wider than 63 bits "
	    "are refused");
	ok(fxp_layout_init(&l, 53, 1, 1, 2048) < 0, "more than 52 fractional "
	    "bits are refused");
	ok(fxp_log2ceil(1) == 0 && fxp_log2ceil(2) == 1 && fxp_log2ceil(3) == 2
	    && fxp_log2ceil(256) == 8 && fxp_log2ceil(257) == 9, "log2ceil");
	fxp_layout_init(&l, 16, 14, 256, 2048);
	ok(fxp_encode(1.5, 16, fxp_max_value(&l), &v) == 0 && v == 98304,
	    "1.5 with 16 fractional bits is 98304");
	ok(fxp_encode(-0x1p-17, 16, 100, &v) == 0 && v == -1 &&
	    fxp_encode(0x1p-17, 16, 100, &v) == 0 && v == 1,
	    "halves round away from zero");
	ok(fxp_encode(16383.99998, 16, fxp_max_value(&l), &v) == 0 &&
	    fxp_encode(16384, 16, fxp_max_value(&l), &v) < 0 &&
	    fxp_encode(-16384, 16, fxp_max_value(&l), &v) < 0,
	    "|x| < 2^int_bits: 2^14 is refused");
	ok(fxp_encode(0.0 / 0.0, 16, 100, &v) < 0 &&
	    fxp_encode(1.0 / 0.0, 16, 100, &v) < 0 &&
	    fxp_encode(1e300, 16, 1LL << 62, &v) < 0, "NaN, inf and huge "
	    "values are refused");
	mpz_inits(n, m, NULL);
	mpz_set_str(n, "1000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000007", 10);
	in[0] = -5; in[1] = 7; in[2] = -(1LL << 37); in[3] = (1LL << 37) - 1;
	fxp_pack(m, in, 4, 39, n);
	ok(fxp_unpack(out, 4, 39, m, n) == 0 && !memcmp(in, out, 4 * sizeof *in),
	    "signed slots pack and unpack (negatives wrap mod n)");
	ok(fxp_unpack(out, 3, 39, m, n) < 0, "something above the last slot "
	    "is refused (4 slots read as 3)");
	mpz_clears(n, m, NULL);
}

static void
test_keygen_kat(void)
{
	unsigned char seed[32];
	paillier_drbg d;
	mpz_t t;

	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	paillier_drbg_init(&d, seed);
	sk = paillier_keygen(2048, &d.rng);
	ok(sk != NULL, "keygen from a fixed seed");
	if (!sk)
		exit(1);
	is_str(sk->pk.kid, "747d41c1d2a7535c619ee2224bba585c7cd80ad7e77c35ab"
	    "bb1f7c9eec659477", "known answer: the key id (SHA-256 of n) of "
	    "the key from seed 00 01 .. 1f");
	mpz_init(t);
	mpz_mul(t, sk->p, sk->q);
	ok(mpz_cmp(t, sk->pk.n) == 0 && sk->pk.bits == 2048 &&
	    mpz_sizeinbase(sk->p, 2) == 1024 && mpz_sizeinbase(sk->q, 2) ==
	    1024, "n = p q, exactly 2048 bits, primes of 1024");
	ok(mpz_fdiv_ui(sk->p, 4) == 3 && mpz_fdiv_ui(sk->q, 4) == 3 &&
	    mpz_probab_prime_p(sk->p, 30) && mpz_probab_prime_p(sk->q, 30),
	    "p, q prime and 3 mod 4");
	ok(sk->pk.kappa == 112 && sk->pk.rbits == 224 && sk->pk.ctbytes == 512,
	    "2048 bits: 112-bit security, 224-bit exponents, 512-byte "
	    "ciphertexts");
	mpz_clear(t);
	paillier_drbg_init(&d, seed);
	sk2 = paillier_keygen(2048, &d.rng);
	ok(sk2 && mpz_cmp(sk2->pk.n, sk->pk.n) == 0 &&
	    mpz_cmp(sk2->pk.hs, sk->pk.hs) == 0, "the same seed gives the same "
	    "key");
	paillier_sk_free(sk2);
	sk2 = paillier_keygen(2048, NULL);
	ok(sk2 && mpz_cmp(sk2->pk.n, sk->pk.n) != 0, "libsodium's randomness "
	    "gives another key");
	ok(paillier_keygen(1024, NULL) == NULL && strstr(dml_errmsg(),
	    "2048 or 3072"), "1024-bit keys are refused");
}

static void
test_encrypt_kat(void)
{
	const paillier_pk *pk = &sk->pk;
	mpz_t m, r, c, c2, t, lambda, mu, d;
	unsigned char b[512];
	char hex[65];

	mpz_inits(m, r, c, c2, t, lambda, mu, d, NULL);
	mpz_set_ui(m, 42);
	mpz_set_str(r, "deadbeefcafebabe0123456789abcdef0011223344556677", 16);
	paillier_encrypt_r(pk, c, m, r);
	paillier_ct_export(pk, b, c);
	hexdigest(b, sizeof b, hex);
	is_str(hex, "8f8e14d0665793475ca519f3c0e82adf855661588cd41c89095631c3"
	    "a0e1e39f", "known answer: SHA-256 of Enc(42) with fixed r");
	/* the same by the formula, without the fixed-base table */
	mpz_powm(c2, pk->hs, r, pk->n2);
	mpz_mul(t, m, pk->n);
	mpz_add_ui(t, t, 1);
	mpz_mul(c2, c2, t);
	mpz_mod(c2, c2, pk->n2);
	ok(mpz_cmp(c, c2) == 0, "the table gives (1 + m n) hs^r mod n^2");
	/* textbook decryption: m = L(c^lambda mod n^2) mu mod n */
	mpz_sub_ui(t, sk->p, 1);
	mpz_sub_ui(lambda, sk->q, 1);
	mpz_lcm(lambda, lambda, t);
	mpz_powm(t, c, lambda, pk->n2);
	mpz_sub_ui(t, t, 1);
	mpz_divexact(t, t, pk->n);
	mpz_invert(mu, lambda, pk->n);
	mpz_mul(t, t, mu);
	mpz_mod(t, t, pk->n);
	ok(mpz_cmp_ui(t, 42) == 0, "the textbook formula decrypts it to 42");
	ok(paillier_decrypt(sk, d, c) == 0 && mpz_cmp_ui(d, 42) == 0,
	    "CRT decryption gives 42");
	mpz_sub_ui(t, pk->n, 1);
	paillier_encrypt(pk, c, t, NULL);
	ok(paillier_decrypt(sk, d, c) == 0 && mpz_cmp(d, t) == 0,
	    "n - 1 round-trips");
	mpz_set_ui(t, 0);
	paillier_encrypt(pk, c, t, NULL);
	paillier_encrypt(pk, c2, t, NULL);
	ok(mpz_cmp(c, c2) != 0 && paillier_decrypt(sk, d, c) == 0 &&
	    mpz_sgn(d) == 0, "encryption is randomized; 0 round-trips");
	mpz_clears(m, r, c, c2, t, lambda, mu, d, NULL);
}

static void
test_homomorphic(void)
{
	const paillier_pk *pk = &sk->pk;
	gmp_randstate_t rs;
	mpz_t a, b, ca, cb, c, d, want, k;
	int add = 1, scale = 1, rer = 1;

	gmp_randinit_default(rs);
	gmp_randseed_ui(rs, 7);
	mpz_inits(a, b, ca, cb, c, d, want, k, NULL);
	for (int i = 0; i < 20; i++) {
		mpz_urandomm(a, rs, pk->n);
		mpz_urandomm(b, rs, pk->n);
		paillier_encrypt(pk, ca, a, NULL);
		paillier_encrypt(pk, cb, b, NULL);
		paillier_add(pk, c, ca, cb);
		mpz_add(want, a, b);
		mpz_mod(want, want, pk->n);
		add &= paillier_decrypt(sk, d, c) == 0 && !mpz_cmp(d, want);
		mpz_urandomb(k, rs, 64);
		if (i % 2)
			mpz_neg(k, k);
		paillier_scale(pk, c, ca, k);
		mpz_mul(want, a, k);
		mpz_mod(want, want, pk->n);
		scale &= paillier_decrypt(sk, d, c) == 0 && !mpz_cmp(d, want);
		mpz_set(c, ca);
		paillier_rerandomize(pk, c, NULL);
		rer &= mpz_cmp(c, ca) != 0 && paillier_decrypt(sk, d, c) == 0 &&
		    !mpz_cmp(d, a);
	}
	ok(add, "Dec(Enc(a) Enc(b)) = a + b mod n (20 random pairs)");
	ok(scale, "Dec(Enc(a)^k) = k a mod n, k positive and negative");
	ok(rer, "rerandomizing changes the ciphertext, not the plaintext");
	mpz_clears(a, b, ca, cb, c, d, want, k, NULL);
	gmp_randclear(rs);
}

/* 80 random vectors of 120 values (3 ciphertexts of 52 slots, the last
 * partly used) summed homomorphically equal their exact sum. */
static void
test_packed_sums(void)
{
	const paillier_pk *pk = &sk->pk;
	enum { N = 120, R = 80 };
	fxp_layout l;
	double x[N], got[N];
	long double want[N] = {0};
	int64_t shape[1] = {N}, v;
	uint64_t s = 88172645463325252ULL;
	mpz_t acc[3], c;
	unsigned char *b = NULL;
	ptensor h;
	json_t *t;
	int exact = 1;

	fxp_layout_init(&l, 16, 14, 256, pk->bits);
	for (int i = 0; i < 3; i++)
		mpz_init_set_ui(acc[i], 1);
	mpz_init(c);
	for (int r = 0; r < R; r++) {
		for (int i = 0; i < N; i++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			/* within the bound, both signs, on the 2^-16 grid */
			x[i] = ldexp((double)(int64_t)(s % (2 * 1073741823ULL)) -
			    1073741822, -16);
			fxp_encode(x[i], 16, fxp_max_value(&l), &v);
			want[i] += v;
		}
		t = ptensor_encrypt(pk, &l, x, 1, shape, NULL);
		if (!t || ptensor_header(NULL, t, "x", pk, &h) < 0) {
			ok(0, "encrypt a packed tensor: %s", dml_errmsg());
			return;
		}
		b = xrealloc(b, h.nct * pk->ctbytes + 4);
		ptensor_bytes(&h, pk, b);
		for (size_t j = 0; j < h.nct; j++) {
			paillier_ct_import(pk, c, b + j * pk->ctbytes);
			paillier_add(pk, acc[j], acc[j], c);
		}
		json_decref(t);
	}
	ok(h.nct == 3 && h.slots == 52 && h.width == 39, "120 values take 3 "
	    "ciphertexts of 52 slots");
	memset(&h, 0, sizeof h);
	h.ndim = 1;
	h.shape[0] = N;
	h.n = N;
	h.slots = l.slots;
	h.width = l.width;
	h.frac = l.frac;
	h.summands = R;
	h.nct = 3;
	memcpy(h.kid, pk->kid, sizeof h.kid);
	t = ptensor_json(pk, &h, acc);
	ok(ptensor_header(NULL, t, "sum", pk, &h) == 0 && h.summands == R,
	    "the sum's tensor parses, %d summands", R);
	ok(ptensor_decrypt(sk, NULL, "sum", &h, fxp_max_value(&l), got) == 0,
	    "the sum decrypts within the bound");
	for (int i = 0; i < N; i++)
		exact &= got[i] == ldexp((double)want[i], -16);
	ok(exact, "every slot is the exact sum of %d signed values", R);
	/* a plaintext scalar weight multiplies every slot */
	mpz_set_ui(c, 3);
	for (int j = 0; j < 3; j++)
		paillier_scale(pk, acc[j], acc[j], c);
	json_decref(t);
	h.summands = 3 * R;
	t = ptensor_json(pk, &h, acc);
	ptensor_header(NULL, t, "sum", pk, &h);
	exact = ptensor_decrypt(sk, NULL, "sum", &h, fxp_max_value(&l), got) ==
	    0;
	for (int i = 0; i < N; i++)
		exact &= got[i] == ldexp((double)(3 * want[i]), -16);
	ok(exact, "Enc(sum)^3 decrypts to 3 sum in every slot (a weight of 3 "
	    "counts 3 summands)");
	/* the bound check: claiming fewer summands than went in is caught */
	h.summands = 1;
	ok(ptensor_decrypt(sk, NULL, "sum", &h, fxp_max_value(&l), got) < 0 &&
	    strstr(dml_errmsg(), "out of range"), "a slot beyond summands * "
	    "bound is refused");
	json_decref(t);
	for (int i = 0; i < 3; i++)
		mpz_clear(acc[i]);
	mpz_clear(c);
	free(b);
}

static void
test_refusals(void)
{
	const paillier_pk *pk = &sk->pk;
	fxp_layout l;
	double x[60], y[60];
	int64_t shape[1] = {60};
	mpz_t c, d;
	unsigned char b[512];
	ptensor h;
	json_t *t, *t2;
	const char *data;
	char *cut;

	mpz_inits(c, d, NULL);
	fxp_layout_init(&l, 16, 14, 256, pk->bits);
	for (int i = 0; i < 60; i++)
		x[i] = i - 30.25;
	x[7] = 20000;
	ok(ptensor_encrypt(pk, &l, x, 1, shape, NULL) == NULL &&
	    strstr(dml_errmsg(), "element 7 is 20000"), "a value beyond the "
	    "layout's bound is refused, named");
	x[7] = 7;
	t = ptensor_encrypt(pk, &l, x, 1, shape, NULL);
	ok(ptensor_header(NULL, t, "v", &sk2->pk, &h) < 0 && strstr(dml_errmsg(),
	    "encrypted to Paillier key"), "a tensor for another key is "
	    "refused");
	/* the wrong secret key, with the kid forged to match */
	ptensor_header(NULL, t, "v", pk, &h);
	ok(ptensor_decrypt(sk2, NULL, "v", &h, fxp_max_value(&l), y) < 0 &&
	    (strstr(dml_errmsg(), "does not hold") || strstr(dml_errmsg(),
	    "out of range") || strstr(dml_errmsg(), "not canonical")),
	    "decrypting with the wrong key is detected (%s)",
	    dml_errmsg());
	ok(ptensor_decrypt(sk, NULL, "v", &h, fxp_max_value(&l), y) == 0 &&
	    y[0] == -30.25 && y[59] == 28.75 && y[7] == 7, "the right key "
	    "decrypts it");
	/* truncated: one base64 group short */
	data = json_string_value(json_object_get(t, "data"));
	cut = xstrdup(data);
	cut[strlen(cut) - 4] = 0;
	t2 = json_deep_copy(t);
	json_object_set_new(t2, "data", json_string(cut));
	ok(ptensor_header(NULL, t2, "v", pk, &h) < 0 && strstr(dml_errmsg(),
	    "truncated"), "truncated ciphertext data is refused");
	strcpy(cut, data);	/* the right length, one bad character */
	cut[10] = '*';
	json_object_set_new(t2, "data", json_string(cut));
	ok(ptensor_header(NULL, t2, "v", pk, &h) == 0 &&
	    ptensor_decrypt(sk, NULL, "v", &h, 0, y) < 0 &&
	    strstr(dml_errmsg(), "bad base64"), "bad base64 is refused");
	free(cut);
	json_object_set_new(t2, "slots", json_integer(53));
	json_object_set_new(t2, "data", json_string(data));
	ok(ptensor_header(NULL, t2, "v", pk, &h) < 0 && strstr(dml_errmsg(),
	    "\"slots\""), "more slots than fit the plaintext are refused");
	json_object_set_new(t2, "slots", json_string("52"));
	ok(ptensor_header(NULL, t2, "v", pk, &h) < 0, "a string for slots is "
	    "refused");
	json_decref(t2);
	/* non-canonical ciphertexts */
	memset(b, 0xff, sizeof b);
	ok(paillier_ct_import(pk, c, b) < 0, "a block >= n^2 is refused");
	mpz_set_ui(c, 0);
	ok(paillier_decrypt(sk, d, c) < 0 && !paillier_valid(pk, c), "0 is not "
	    "a ciphertext");
	mpz_set(c, pk->n);
	ok(paillier_decrypt(sk, d, c) < 0 && strstr(dml_errmsg(),
	    "not prime to n") && !paillier_valid(pk, c), "n is not a "
	    "ciphertext (not a unit)");
	mpz_mul_ui(c, sk->p, 12345);
	ok(paillier_decrypt(sk, d, c) < 0 && !paillier_valid(pk, c),
	    "a multiple of p is not a ciphertext");
	mpz_set(c, pk->n2);
	ok(paillier_decrypt(sk, d, c) < 0, "n^2 is out of range");
	json_decref(t);
	mpz_clears(c, d, NULL);
}

static void
test_files(void)
{
	char dir[] = "/tmp/t-paillier.XXXXXX", path[64], pub[80];
	paillier_sk *k;
	paillier_pk pk;
	json_t *r;
	FILE *f;
	char *buf;
	size_t len;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/sk", dir);
	snprintf(pub, sizeof pub, "%s/pub", dir);
	ok(paillier_sk_save(path, sk) == 0, "save the secret key");
	ok(paillier_sk_save(path, sk) < 0, "an existing key file is never "
	    "overwritten");
	ok((k = paillier_sk_load(path)) != NULL && mpz_cmp(k->p, sk->p) == 0 &&
	    mpz_cmp(k->pk.hs, sk->pk.hs) == 0, "load it back");
	paillier_sk_free(k);
	r = paillier_pk_record(&sk->pk, "cust");
	f = fopen(pub, "w");
	rec_write(f, r, NULL);
	fclose(f);
	json_decref(r);
	ok(paillier_pk_load(&pk, pub) == 0 && mpz_cmp(pk.n, sk->pk.n) == 0 &&
	    !strcmp(pk.kid, sk->pk.kid), "the public key record loads");
	paillier_pk_clear(&pk);
	ok(paillier_pk_load(&pk, path) == 0 && mpz_cmp(pk.hs, sk->pk.hs) == 0,
	    "a secret key file gives its public key");
	paillier_pk_clear(&pk);
	/* tamper: change a digit of p */
	dml_read_file(path, &buf, &len);
	{
		char *p = strstr(buf, "\"p\":\"") + 5;
		*p = *p == '9' ? '8' : (char)(*p + 1);
	}
	unlink(path);
	dml_create_file(path, buf, len, 0600);
	free(buf);
	ok(paillier_sk_load(path) == NULL && strstr(dml_errmsg(), ":1:"),
	    "a tampered secret key is refused: %s", dml_errmsg());
	unlink(path);
	/* tamper: the kid of the public key */
	r = paillier_pk_record(&sk->pk, NULL);
	json_object_set_new(r, "kid", json_string(sk2->pk.kid));
	ok(paillier_pk_from_json(&pk, NULL, r) < 0 && strstr(dml_errmsg(),
	    "kid"), "a public key whose kid does not match n is refused");
	paillier_pk_clear(&pk);
	json_object_set_new(r, "kid", json_string(sk->pk.kid));
	json_object_set_new(r, "n", json_string("0123"));
	ok(paillier_pk_from_json(&pk, NULL, r) < 0, "a leading zero in n is "
	    "refused");
	paillier_pk_clear(&pk);
	json_decref(r);
	unlink(pub);
	rmdir(dir);
}

int
main(void)
{
	dml_setprog("t-paillier");
	test_random();
	if (dml_crypto_init() < 0)
		return 1;
	paillier_secure_memory();
	test_fixedpoint();
	test_keygen_kat();
	test_encrypt_kat();
	test_homomorphic();
	test_packed_sums();
	test_refusals();
	test_files();
	paillier_sk_free(sk);
	paillier_sk_free(sk2);
	return done_testing();
}
