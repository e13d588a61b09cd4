/* secagg_bench: the costs of secure aggregation (lib/secagg, lib/shamir),
 * one core, in process (no record parsing; contrib/bench/secagg.sh times
 * the programs too).
 *
 *   secagg_bench node N P DROP [K]
 *       the federated node's unmasking of N devices' P-value inputs with
 *       a fraction DROP dropped after sharing (K neighbours, 0 = all):
 *       reconstruct the survivors' self-mask seeds and the dropped
 *       devices' mask keys from t shares each (checked against their
 *       commitments), regenerate those masks and take them off the sum.
 *       The masked sum it starts from is built (untimed) from the same
 *       masks plus random inputs, and the result is checked to be the
 *       inputs' sum exactly.
 *   secagg_bench device N P [K]
 *       one device's work in a round of N devices: check its neighbours'
 *       key signatures, split and seal its two secrets to its share
 *       holders, agree on pair keys, quantize and mask its input.
 *
 * Prints "name seconds" lines (CPU time of the process). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secagg.h"
#include "shamir.h"

static double
cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void
element(unsigned char b[32])
{
	do
		randombytes_buf(b, 32);
	while (!shamir_fix_element(b));
}

/* The pair masks between each dropped device u and its surviving
 * neighbours v: their keys and signs appended at keys[32 nt], signs[nt].
 * The survivors added them (from v's side: +1 when v < u); the node
 * (node_side, from u's recovered key) takes them off. */
static int
pair_terms(const secagg_graph *g, const char *dropped,
    const unsigned char session[32], const unsigned char *ssk,
    const unsigned char *spk, int node_side, unsigned char *keys,
    signed char *signs, uint32_t *nt, uint32_t *nb)
{
	for (uint32_t u = 1; u <= g->n; u++) {
		uint32_t c;
		if (!dropped[u])
			continue;
		c = secagg_neighbours(g, u, nb);
		for (uint32_t i = 0; i < c; i++) {
			uint32_t v = nb[i], me = node_side ? u : v,
				 other = node_side ? v : u;
			if (dropped[v])
				continue;
			if (secagg_pair_key(keys + 32 * *nt, session,
			    ssk + 32 * (me - 1), spk + 32 * (other - 1)) < 0)
				return -1;
			signs[(*nt)++] = (v < u) != node_side ? 1 : -1;
		}
	}
	return 0;
}

/* One node benchmark's round: the devices' secrets, the shares of them
 * the node gets, and the masked sum it starts from. */
struct round {
	secagg_graph g;
	unsigned char session[32], *ssk, *spk, *b, *bc, *ssh, *keys;
	signed char *signs;
	uint32_t n, t, m, *nb, *xs, ndrop, nt, nterms;
	uint32_t *ysum, *want;
	size_t p;
	char *dropped;
};

/* Drop a random DROP fraction of the devices; make each one's key pair
 * (ssk, spk) and self-mask seed b with its commitment bc. */
static void
make_devices(struct round *r, double drop)
{
	uint32_t n = r->n;

	r->ssk = malloc(32 * (size_t)n);
	r->spk = malloc(32 * (size_t)n);
	r->b = malloc(32 * (size_t)n);
	r->bc = malloc(32 * (size_t)n);
	r->dropped = calloc(n + 1, 1);
	r->ndrop = (uint32_t)(drop * n + 0.5);
	for (uint32_t i = 0; i < r->ndrop; i++) {	/* a random DROP fraction */
		uint32_t v;
		do
			v = 1 + randombytes_uniform(n);
		while (r->dropped[v]);
		r->dropped[v] = 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		element(r->ssk + 32 * i);
		crypto_scalarmult_base(r->spk + 32 * i, r->ssk + 32 * i);
		element(r->b + 32 * i);
		crypto_generichash(r->bc + 32 * i, 32, r->b + 32 * i, 32, NULL,
		    0);
	}
}

/* Shares the survivors hold: of b for survivors, of s for dropped; the
 * node gets them (xs, ssh) from the first t surviving holders. */
static int
make_shares(struct round *r)
{
	uint32_t n = r->n, t = r->t, m = r->m, *hold;
	unsigned char *bsh;

	hold = malloc((m + 1) * sizeof *hold);
	r->nb = malloc((m + 1) * sizeof *r->nb);
	r->xs = malloc((size_t)n * t * sizeof *r->xs);
	bsh = malloc(32 * (size_t)m);
	r->ssh = malloc((size_t)n * t * 32);
	fprintf(stderr, "secagg_bench: making %u devices' shares ...\n", n);
	for (uint32_t u = 1; u <= n; u++) {
		uint32_t c = secagg_neighbours(&r->g, u, hold), q = 0;
		hold[c++] = u;
		/* ascending holder order */
		for (uint32_t i = c - 1; i > 0 && hold[i] < hold[i - 1]; i--) {
			uint32_t tmp = hold[i];
			hold[i] = hold[i - 1];
			hold[i - 1] = tmp;
		}
		if (shamir_split(r->dropped[u] ? r->ssk + 32 * (u - 1) :
		    r->b + 32 * (u - 1), (int)t, hold, (int)c, NULL, bsh) < 0)
			return -1;
		for (uint32_t i = 0; i < c && q < t; i++)
			if (!r->dropped[hold[i]]) {
				r->xs[(size_t)(u - 1) * t + q] = hold[i];
				memcpy(r->ssh + ((size_t)(u - 1) * t + q) * 32,
				    bsh + 32 * i, 32);
				q++;
			}
		if (q < t) {
			fprintf(stderr, "device %u: too few survivors\n", u);
			return -1;
		}
	}
	return 0;
}

/* Inputs, their sum (want), and the masked sum the survivors would send
 * (ysum). */
static int
mask_sum(struct round *r)
{
	uint32_t n = r->n, *x;
	size_t p = r->p;

	x = malloc(p * 4);
	r->ysum = calloc(p, 4);
	r->want = calloc(p, 4);
	r->nterms = n;
	for (uint32_t u = 1; u <= n; u++)
		if (r->dropped[u])
			r->nterms += secagg_neighbours(&r->g, u, r->nb);
	r->keys = malloc(32 * (size_t)r->nterms);
	r->signs = malloc(r->nterms);
	r->nt = 0;
	for (uint32_t v = 1; v <= n; v++) {
		if (r->dropped[v])
			continue;
		randombytes_buf(x, p * 4);
		for (size_t i = 0; i < p; i++) {
			x[i] &= 0xfffff;	/* 20-bit inputs */
			r->want[i] += x[i];
			r->ysum[i] += x[i];
		}
		secagg_self_key(r->keys + 32 * r->nt, r->session,
		    r->b + 32 * (v - 1));
		r->signs[r->nt++] = 1;
	}
	if (pair_terms(&r->g, r->dropped, r->session, r->ssk, r->spk, 0,
	    r->keys, r->signs, &r->nt, r->nb) < 0)
		return -1;
	fprintf(stderr, "secagg_bench: masking the sum (%u terms) ...\n",
	    r->nt);
	secagg_masks(r->ysum, p, r->keys, r->signs, r->nt);
	return 0;
}

/* The node's work, timed: reconstruct every device's secret from its t
 * shares (checked against the commitments), regenerate the masks and
 * take them off ysum. The times of the three steps go to tm[0..2].
 * 1 when the secrets all check, 0 when not, -1 on an error. */
static int
unmask(struct round *r, double tm[3])
{
	uint32_t n = r->n, t = r->t, cap = 0, last[1] = {0};
	unsigned char *lambda, sk[32], chk[32];
	double t0;
	int ok = 1, have = 0;

	lambda = malloc(32 * (size_t)t);
	r->nt = 0;
	memset(r->keys, 0, 32 * (size_t)r->nterms);
	t0 = cpu();
	for (uint32_t u = 1; u <= n; u++) {
		uint32_t *ux = r->xs + (size_t)(u - 1) * t;
		/* the holder set repeats: one set of coefficients */
		if (!have || ux[0] != last[0] ||
		    memcmp(ux, r->xs + (size_t)(cap) * t, t * 4) != 0) {
			if (shamir_lagrange(ux, (int)t, lambda) < 0)
				return -1;
			have = 1;
			last[0] = ux[0];
			cap = u - 1;
		}
		if (shamir_apply(lambda, r->ssh + (size_t)(u - 1) * t * 32,
		    (int)t, sk) < 0)
			return -1;
		if (r->dropped[u]) {
			crypto_scalarmult_base(chk, sk);
			ok &= memcmp(chk, r->spk + 32 * (u - 1), 32) == 0;
		} else {
			crypto_generichash(chk, 32, sk, 32, NULL, 0);
			ok &= memcmp(chk, r->bc + 32 * (u - 1), 32) == 0;
			secagg_self_key(r->keys + 32 * r->nt, r->session, sk);
			r->signs[r->nt++] = -1;
		}
	}
	tm[0] = cpu() - t0;
	/* the recovered key is ssk: reconstructed above */
	if (pair_terms(&r->g, r->dropped, r->session, r->ssk, r->spk, 1,
	    r->keys, r->signs, &r->nt, r->nb) < 0)
		return -1;
	tm[1] = cpu() - t0 - tm[0];
	secagg_masks(r->ysum, r->p, r->keys, r->signs, r->nt);
	tm[2] = cpu() - t0 - tm[0] - tm[1];
	return ok;
}

static int
node(uint32_t n, size_t p, double drop, uint32_t k)
{
	struct round r;
	double tm[3];
	int ok;

	memset(&r, 0, sizeof r);
	r.n = n;
	r.p = p;
	randombytes_buf(r.session, 32);
	secagg_graph_init(&r.g, r.session, n, k);
	r.m = r.g.k + 1;
	r.t = (uint32_t)secagg_default_threshold(r.m);
	make_devices(&r, drop);
	if (make_shares(&r) < 0 || mask_sum(&r) < 0)
		return 1;
	if ((ok = unmask(&r, tm)) < 0)
		return 1;
	ok &= memcmp(r.ysum, r.want, p * 4) == 0;
	printf("node_devices %u\nnode_params %zu\nnode_dropped %u\n"
	    "node_threshold %u\nnode_neighbours %u\nnode_mask_streams %u\n"
	    "node_reconstruct_s %.3f\nnode_pair_keys_s %.3f\n"
	    "node_masks_s %.3f\nnode_unmask_total_s %.3f\nnode_sum_exact %s\n",
	    n, p, r.ndrop, r.t, r.g.k, r.nt, tm[0], tm[1], tm[2],
	    tm[0] + tm[1] + tm[2], ok ? "yes" : "NO");
	return ok ? 0 : 1;
}

static int
device(uint32_t n, size_t p, uint32_t k)
{
	secagg_graph g;
	unsigned char session[32], csk[32], cpk[32], ssk[32], b[32], *peers,
		      *bsh, *ssh, *keys, pt[72], ct[88], nonce[24], sig[64],
		      epk[32], esk[64];
	uint32_t m, t, *hold, c, me = n / 2, opened = 0;
	signed char *signs;
	double *x, t0, t1, t2, t3;
	uint32_t *q;
	size_t clipped;

	randombytes_buf(session, 32);
	secagg_graph_init(&g, session, n, k);
	m = g.k + 1;
	t = (uint32_t)secagg_default_threshold(m);
	peers = malloc(32 * (size_t)(m + 1));
	for (uint32_t i = 0; i <= m; i++) {	/* neighbours' c and s keys */
		unsigned char s2[32];
		randombytes_buf(s2, 32);
		crypto_scalarmult_base(peers + 32 * i, s2);
	}
	crypto_sign_keypair(epk, esk);
	crypto_sign_detached(sig, NULL, session, 32, esk);
	randombytes_buf(csk, 32);
	crypto_scalarmult_base(cpk, csk);
	element(ssk);
	element(b);
	hold = malloc((m + 1) * sizeof *hold);
	bsh = malloc(32 * (size_t)m);
	ssh = malloc(32 * (size_t)m);
	keys = malloc(32 * (size_t)(m + 1));
	signs = malloc(m + 1);
	x = malloc(p * sizeof *x);
	q = malloc((p + 1) * 4);
	for (size_t i = 0; i < p; i++)
		x[i] = (double)randombytes_uniform(2000) - 1000;

	t0 = cpu();
	/* share: check the neighbours' signed keys, split, seal */
	for (uint32_t i = 0; i < m; i++)
		if (crypto_sign_verify_detached(sig, session, 32, epk) != 0)
			return 1;
	c = secagg_neighbours(&g, me, hold);
	hold[c++] = me;
	if (shamir_split(b, (int)t, hold, (int)c, NULL, bsh) < 0 ||
	    shamir_split(ssk, (int)t, hold, (int)c, NULL, ssh) < 0)
		return 1;
	for (uint32_t i = 0; i + 1 < c; i++) {
		memcpy(pt + 8, bsh + 32 * i, 32);
		memcpy(pt + 40, ssh + 32 * i, 32);
		randombytes_buf(nonce, sizeof nonce);
		if (crypto_box_easy(ct, pt, sizeof pt, nonce, peers + 32 * i,
		    csk) != 0)
			return 1;
	}
	t1 = cpu();
	/* mask: open the received shares, pair keys, quantize, masks */
	/* (one ciphertext stands for all: the cost is the key agreement) */
	for (uint32_t i = 0; i + 1 < c; i++)
		opened += crypto_box_open_easy(pt, ct, sizeof ct, nonce,
		    peers + 32 * i, csk) == 0;
	secagg_self_key(keys, session, b);
	signs[0] = 1;
	for (uint32_t i = 0; i + 1 < c; i++) {
		if (secagg_pair_key(keys + 32 * (i + 1), session, ssk,
		    peers + 32 * i) < 0)
			return 1;
		signs[i + 1] = hold[i] > me ? 1 : -1;
	}
	t2 = cpu();
	secagg_quantize(x, p, 4096, secagg_auto_frac(n, 4096), q, &clipped);
	q[p] = 100;
	secagg_masks(q, p + 1, keys, signs, c);
	t3 = cpu();
	printf("device_devices %u\ndevice_neighbours %u\ndevice_threshold %u\n"
	    "device_params %zu\ndevice_share_s %.4f\ndevice_agree_s %.4f\n"
	    "device_mask_s %.4f\ndevice_total_s %.4f\n", n, g.k, t, p,
	    t1 - t0, t2 - t1, t3 - t2, t3 - t0);
	if (opened > 1)
		fprintf(stderr, "secagg_bench: %u boxes opened\n", opened);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc >= 5 && strcmp(argv[1], "node") == 0)
		return node((uint32_t)atol(argv[2]), (size_t)atol(argv[3]),
		    atof(argv[4]), argc > 5 ? (uint32_t)atol(argv[5]) : 0);
	if (argc >= 4 && strcmp(argv[1], "device") == 0)
		return device((uint32_t)atol(argv[2]), (size_t)atol(argv[3]),
		    argc > 4 ? (uint32_t)atol(argv[4]) : 0);
	fprintf(stderr, "usage: secagg_bench node N P DROP [K] | device N P "
	    "[K]\n");
	return 2;
}
