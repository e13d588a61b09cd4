/* t-secagg: the primitives of secure aggregation: PRG masks and their
 * cancellation, pair keys, quantization, neighbour graphs, thresholds. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg.h"
#include "dmltest.h"
#include "util.h"

/* The session, and three devices' key pairs (a, b, c). */
static unsigned char sess[32], sk[3][32], pk[3][32];

static void
make_keys(void)
{
	randombytes_buf(sess, 32);
	for (int u = 0; u < 3; u++)
		randombytes_buf(sk[u], 32);
	for (int u = 0; u < 3; u++)
		crypto_scalarmult_base(pk[u], sk[u]);
}

/* Pair keys agree from both sides; k1 is a's and b's. */
static void
check_pair_keys(unsigned char k1[32])
{
	unsigned char k2[32], zero[32] = {0};

	ok(secagg_pair_key(k1, sess, sk[0], pk[1]) == 0 &&
	    secagg_pair_key(k2, sess, sk[1], pk[0]) == 0 && !memcmp(k1, k2, 32),
	    "a pair key is the same from both sides");
	ok(secagg_pair_key(k2, sess, sk[0], pk[2]) == 0 && memcmp(k1, k2, 32),
	    "another pair, another key");
	ok(secagg_pair_key(k2, sess, sk[0], zero) < 0, "a low-order point is "
	    "refused");
}

/* The masks are the ChaCha20 keystream, across chunk boundaries. */
static void
check_keystream(const unsigned char k1[32])
{
	static uint32_t a[10000], b[10000];
	static const unsigned char nonce[8];
	signed char signs[1];
	uint32_t *ks;
	int okall;

	memset(a, 0, sizeof a);
	signs[0] = 1;
	secagg_masks(a, 10000, k1, signs, 1);
	ks = calloc(10000, 4);
	crypto_stream_chacha20((unsigned char *)ks, sizeof a, nonce, k1);
	ok(!memcmp(a, ks, sizeof a), "a mask is the keystream read as "
	    "little-endian uint32 (10000 values, two chunks)");
	/* odd lengths and offsets: the tail is made apart from the rest */
	okall = 1;
	for (size_t len = 1; len < 9000; len = len * 3 + 7) {
		memcpy(b, ks, sizeof b);
		signs[0] = -1;
		secagg_masks(b, len, k1, signs, 1);
		for (size_t i = 0; i < 10000; i++)
			okall &= b[i] == (i < len ? 0 : ks[i]);
	}
	ok(okall, "subtracting it takes it off exactly, at any length");
	free(ks);
}

/* Three devices' pair masks cancel in the sum. */
static int
check_cancel(void)
{
	uint32_t y[3][100], x[3][100], s;
	unsigned char keys[3 * 32];
	signed char signs[3];
	int okall;

	for (int u = 0; u < 3; u++) {
		int nt = 0;
		for (int i = 0; i < 100; i++)
			y[u][i] = x[u][i] = randombytes_uniform(1000);
		for (int v = 0; v < 3; v++) {
			if (v == u)
				continue;
			if (secagg_pair_key(keys + 32 * nt, sess, sk[u],
			    pk[v]) < 0)
				return -1;
			signs[nt++] = u < v ? 1 : -1;
		}
		secagg_masks(y[u], 100, keys, signs, (size_t)nt);
	}
	okall = 1;
	for (int i = 0; i < 100; i++) {
		s = y[0][i] + y[1][i] + y[2][i];
		okall &= s == x[0][i] + x[1][i] + x[2][i];
		okall &= y[0][i] != x[0][i] || x[0][i] == 0;
	}
	ok(okall, "pair masks with signs by index order cancel in the "
	    "sum, and hide each input");
	return 0;
}

/* Self masks: the same key regenerates the same mask. */
static void
check_self_mask(void)
{
	static uint32_t a[10000], b[10000];
	unsigned char k1[32];
	signed char signs[1];

	secagg_self_key(k1, sess, sk[1]);
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	signs[0] = 1;
	secagg_masks(a, 10000, k1, signs, 1);
	signs[0] = -1;
	secagg_masks(a, 10000, k1, signs, 1);
	ok(!memcmp(a, b, sizeof a), "adding then taking off a mask is the "
	    "identity");
}

/* Quantization, and the fraction bits that keep the sum in range. */
static void
check_quantize(void)
{
	double x[6] = {1.0, -1.0, 0.3, 100.0, -100.0, 1.0 / 65536};
	uint32_t q[6];
	size_t clipped;

	ok(secagg_quantize(x, 6, 10, 16, q, &clipped) == 0 &&
	    q[0] == 65536 && (int32_t)q[1] == -65536 &&
	    q[2] == 19661 && q[3] == 655360 &&
	    (int32_t)q[4] == -655360 && q[5] == 1 && clipped == 2,
	    "round to nearest at 2^16, clamp to +-clip, count clamps");
	x[2] = NAN;
	ok(secagg_quantize(x, 6, 10, 16, q, &clipped) < 0 &&
	    strstr(dml_errmsg(), "not finite"), "NaN is refused");
	ok(secagg_auto_frac(500, 4096) == 10 && secagg_auto_frac(2, 1) == 24,
	    "fraction bits: the most that keep n x clip below 2^31");
	ok(500.0 * ldexp(4096, 10) < 2147483648.0 &&
	    500.0 * ldexp(4096, 11) >= 2147483648.0, "and not one more");
	ok(secagg_auto_frac(1000000, 1e6) < 0, "an impossible clip is refused");
}

/* Neighbour graphs: Harary graphs of even degree, the full graph. */
static void
check_graph_shape(void)
{
	secagg_graph g;
	uint32_t nb[32], c;
	int reg = 1, sym = 1, cons = 1;

	secagg_graph_init(&g, sess, 12, 4);
	for (uint32_t i = 1; i <= 12; i++) {
		c = secagg_neighbours(&g, i, nb);
		reg &= c == 4;
		for (uint32_t j = 0; j < c; j++) {
			cons &= secagg_adjacent(&g, i, nb[j]);
			sym &= secagg_adjacent(&g, nb[j], i);
			cons &= nb[j] != i && (!j || nb[j] > nb[j - 1]);
		}
		c = 0;
		for (uint32_t j = 1; j <= 12; j++)
			c += (uint32_t)secagg_adjacent(&g, i, j);
		cons &= c == 4;
	}
	ok(!g.full && reg && sym && cons, "Harary graph of degree 4 on "
	    "12: regular, symmetric, lists match adjacency");
	secagg_graph_free(&g);
	secagg_graph_init(&g, sess, 12, 5);
	ok(g.k == 6, "odd degree rounds up");
	secagg_graph_free(&g);
	secagg_graph_init(&g, sess, 12, 11);
	c = secagg_neighbours(&g, 3, nb);
	ok(g.full && c == 11 && !secagg_adjacent(&g, 3, 3),
	    "k >= n - 1 is the full graph");
	secagg_graph_free(&g);
}

/* The graph's permutation comes from the session. */
static void
check_graph_session(void)
{
	secagg_graph g, h;
	unsigned char s2[32];

	memcpy(s2, sess, 32);
	s2[0] ^= 1;
	secagg_graph_init(&g, sess, 100, 6);
	secagg_graph_init(&h, s2, 100, 6);
	ok(memcmp(g.perm, h.perm, 100 * 4) != 0, "another session, "
	    "another graph");
	secagg_graph_free(&h);
	secagg_graph_init(&h, sess, 100, 6);
	ok(memcmp(g.perm, h.perm, 100 * 4) == 0, "the same "
	    "session, the same graph");
	secagg_graph_free(&h);
	secagg_graph_free(&g);
}

/* Default thresholds, and the step names. */
static void
check_thresholds(void)
{
	int okall = 1;

	for (uint32_t m = 2; m < 2000; m++) {
		int t = secagg_default_threshold(m);
		okall &= 2 * t > (int)m && t <= (int)m;
	}
	ok(okall, "default thresholds are a majority and at most m");
	ok(secagg_default_threshold(500) == 334, "2m/3 + 1 of 500 is 334");
	ok(secagg_dstep_parse("mask") == SA_MASK &&
	    secagg_nstep_parse("route-shares") == SA_ROUTE_SHARES &&
	    secagg_dstep_parse("collect-keys") < 0, "step names");
}

int
main(void)
{
	unsigned char k1[32];

	test_random();
	if (dml_crypto_init() < 0)
		return 1;
	make_keys();
	check_pair_keys(k1);
	check_keystream(k1);
	if (check_cancel() < 0)
		return 1;
	check_self_mask();
	check_quantize();
	check_graph_shape();
	check_graph_session();
	check_thresholds();
	return done_testing();
}
