/* paillier_bench: Paillier throughput of libdml against textbook Paillier
 * on the same GMP, one core, and inputs for the command-line figures.
 *
 *   paillier_bench speed SECONDS FRAC INT SUMMANDS
 *       values per second of encryption and decryption, ours (in the
 *       layout of FRAC fractional bits, INT integer bits and SUMMANDS
 *       summands: the job's default 16 14 256 packs 52 values a
 *       ciphertext; fixed-base short exponent; CRT decryption with
 *       mpz_powm_sec) and textbook (one
 *       value a ciphertext, c = (1 + m n) r^n mod n^2 with r uniform in
 *       Z_n*, as FATE and python-paillier encrypt; CRT decryption as
 *       python-paillier decrypts), each the best of three windows of
 *       SECONDS / 3
 *   paillier_bench results -j JOB -n COUNT -d DIR
 *       COUNT signed clear train results of the job (pseudo-random
 *       deltas, n = 100..149), DIR/res-I.ndjson, each from its own
 *       device key DIR/dev-I.key
 *
 * Built by contrib/bench/paillier.sh. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "paillier.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Textbook encryption: (1 + m n) r^n mod n^2, r a random unit. */
static void
textbook_encrypt(const paillier_pk *pk, mpz_t c, const mpz_t m, mpz_t r,
    unsigned char *buf)
{
	mpz_t t, g;

	mpz_inits(t, g, NULL);
	do {
		randombytes_buf(buf, pk->ctbytes / 2);
		mpz_import(r, pk->ctbytes / 2, 1, 1, 1, 0, buf);
		mpz_mod(r, r, pk->n);
		mpz_gcd(g, r, pk->n);
	} while (mpz_sgn(r) == 0 || mpz_cmp_ui(g, 1) != 0);
	mpz_powm(t, r, pk->n, pk->n2);
	mpz_mul(c, m, pk->n);
	mpz_add_ui(c, c, 1);
	mpz_mul(c, c, t);
	mpz_mod(c, c, pk->n2);
	mpz_clears(t, g, NULL);
}

static int
speed(double secs, int frac, int ibits, long long summands)
{
	unsigned char seed[32] = "paillier_bench", *buf;
	paillier_drbg d;
	paillier_sk *sk;
	fxp_layout l;
	int64_t v[FXP_MAXSLOTS];
	uint64_t s = 42;
	mpz_t m, c, r, *cts;
	long n, ncts = 64;
	double t0, te, td, tte, ttd;

	paillier_drbg_init(&d, seed);
	sk = paillier_keygen(2048, &d.rng);
	if (!sk)
		dml_fail(2);
	if (fxp_layout_init(&l, frac, ibits, summands, sk->pk.bits) < 0)
		dml_fail(2);
	buf = xmalloc(sk->pk.ctbytes);
	mpz_inits(m, c, r, NULL);
	cts = xmalloc((size_t)ncts * sizeof *cts);
	for (long i = 0; i < ncts; i++)
		mpz_init(cts[i]);
	paillier_encrypt(&sk->pk, c, m, NULL);	/* builds the table */

	te = td = tte = ttd = 1e9;
	for (int round = 0; round < 3; round++) {	/* best of three */
		double t;
		/* ours: pack the slots (encoded from doubles), encrypt, export */
		t0 = now();
		for (n = 0; now() - t0 < secs / 3; n++) {
			for (int k = 0; k < l.slots; k++)
				fxp_encode(((double)(rnd(&s) >> 11) * 0x1p-53 -
				    0.5) * ldexp(1, l.ibits), l.frac,
				    fxp_max_value(&l), &v[k]);
			fxp_pack(m, v, l.slots, l.width, sk->pk.n);
			paillier_encrypt(&sk->pk, cts[n % ncts], m, NULL);
			paillier_ct_export(&sk->pk, buf, cts[n % ncts]);
		}
		t = (now() - t0) / (double)n;
		te = t < te ? t : te;
		/* ours: import, decrypt, unpack, scale */
		t0 = now();
		for (n = 0; now() - t0 < secs / 3; n++) {
			double x = 0;
			paillier_ct_export(&sk->pk, buf, cts[n % ncts]);
			paillier_ct_import(&sk->pk, c, buf);
			if (paillier_decrypt(sk, m, c) < 0 ||
			    fxp_unpack(v, l.slots, l.width, m, sk->pk.n) < 0)
				dml_die(2, "decryption failed");
			for (int k = 0; k < l.slots; k++)
				x += ldexp((double)v[k], -l.frac);
			(void)x;
		}
		t = (now() - t0) / (double)n;
		td = t < td ? t : td;
		/* textbook: one value a ciphertext */
		t0 = now();
		for (n = 0; now() - t0 < secs / 3; n++) {
			mpz_set_ui(m, (unsigned long)(rnd(&s) >> 40));
			textbook_encrypt(&sk->pk, cts[n % ncts], m, r, buf);
			paillier_ct_export(&sk->pk, buf, cts[n % ncts]);
		}
		t = (now() - t0) / (double)n;
		tte = t < tte ? t : tte;
		t0 = now();
		for (n = 0; now() - t0 < secs / 3; n++)
			if (paillier_decrypt(sk, m, cts[n % ncts]) < 0)
				dml_die(2, "decryption failed");
		t = (now() - t0) / (double)n;
		ttd = t < ttd ? t : ttd;
	}

	printf("slots %d width %d frac %d int %d summands %lld bits %d\n",
	    l.slots, l.width, l.frac, l.ibits, l.max_summands, sk->pk.bits);
	printf("enc_ct_us %.1f enc_values_per_s %.0f\n", te * 1e6,
	    l.slots / te);
	printf("dec_ct_us %.1f dec_values_per_s %.0f\n", td * 1e6,
	    l.slots / td);
	printf("textbook_enc_ct_us %.1f textbook_enc_values_per_s %.1f\n",
	    tte * 1e6, 1 / tte);
	printf("textbook_dec_ct_us %.1f textbook_dec_values_per_s %.1f\n",
	    ttd * 1e6, 1 / ttd);
	printf("ct_bytes %zu\n", sk->pk.ctbytes);
	for (long i = 0; i < ncts; i++)
		mpz_clear(cts[i]);
	free(cts);
	mpz_clears(m, c, r, NULL);
	free(buf);
	paillier_sk_free(sk);
	return 0;
}

static int
results(const char *jobf, long count, const char *dir)
{
	dml_job job;
	float *dv;

	if (job_load(jobf, &job) < 0)
		dml_fail(2);
	dv = xmalloc((size_t)job.params * sizeof *dv);
	for (long i = 0; i < count; i++) {
		char *path;
		unsigned char seedk[32] = {0};
		uint64_t s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(i + 1);
		long long n = 100 + i % 50;
		int64_t shape[1] = {job.params};
		dml_key k;
		json_t *r, *vals;
		FILE *f;

		memcpy(seedk, &s, sizeof s);
		if (key_generate(&k, seedk) < 0)
			dml_fail(2);
		path = xasprintf("%s/dev-%ld.key", dir, i);
		unlink(path);
		if (key_save(path, &k) < 0)
			dml_fail(2);
		free(path);
		for (long long p = 0; p < job.params; p++)	/* |d/n| < 0.01 */
			dv[p] = (float)((double)(rnd(&s) >> 11) * 0x1p-53 * 2 -
			    1) * (float)n * 0.01f;
		r = rec_new("dml.result");
		json_object_set_new(r, "job", json_string(job.id));
		json_object_set_new(r, "round", json_integer(0));
		json_object_set_new(r, "task", json_string("train"));
		json_object_set_new(r, "n", json_integer(n));
		json_object_set_new(r, "weight", json_integer(n));
		json_object_set_new(r, "model", json_string(job.model));
		vals = json_object();
		json_object_set_new(vals, "delta", tensor_to_json(DT_F32, 1,
		    shape, dv));
		json_object_set_new(r, "values", vals);
		path = xasprintf("%s/res-%ld.ndjson", dir, i);
		if (!(f = fopen(path, "w")) || rec_sign(r, &k) < 0 ||
		    rec_write(f, r, NULL) < 0 || fclose(f) != 0)
			dml_die(2, "%s: cannot write", path);
		free(path);
		json_decref(r);
		key_free(&k);
	}
	free(dv);
	job_free(&job);
	return 0;
}

int
main(int argc, char **argv)
{
	dml_setprog(argv[0]);
	if (dml_crypto_init() < 0)
		dml_fail(2);
	if (argc == 6 && strcmp(argv[1], "speed") == 0)
		return speed(atof(argv[2]), atoi(argv[3]), atoi(argv[4]),
		    atoll(argv[5]));
	if (argc == 8 && strcmp(argv[1], "results") == 0 &&
	    strcmp(argv[2], "-j") == 0 && strcmp(argv[4], "-n") == 0 &&
	    strcmp(argv[6], "-d") == 0)
		return results(argv[3], atol(argv[5]), argv[7]);
	dml_die(2, "usage: paillier_bench speed SECONDS FRAC INT SUMMANDS | "
	    "results -j JOB -n COUNT -d DIR");
}
