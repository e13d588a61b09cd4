/* t-secagg: the primitives of secure aggregation: PRG masks and their
 * cancellation, pair keys, quantization, neighbour graphs, thresholds. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg.h"
#include "dmltest.h"
#include "util.h"

int
main(void)
{
	unsigned char sess[32], ska[32], pka[32], skb[32], pkb[32], skc[32],
		      pkc[32], k1[32], k2[32], keys[3 * 32], zero[32] = {0};
	signed char signs[3];
	uint32_t a[10000], b[10000], *ks;
	static const unsigned char nonce[8];
	int okall;

	test_random();
	if (dml_crypto_init() < 0)
		return 1;
	randombytes_buf(sess, 32);
	randombytes_buf(ska, 32);
	randombytes_buf(skb, 32);
	randombytes_buf(skc, 32);
	crypto_scalarmult_base(pka, ska);
	crypto_scalarmult_base(pkb, skb);
	crypto_scalarmult_base(pkc, skc);

	ok(secagg_pair_key(k1, sess, ska, pkb) == 0 &&
	    secagg_pair_key(k2, sess, skb, pka) == 0 && !memcmp(k1, k2, 32),
	    "a pair key is the same from both sides");
	ok(secagg_pair_key(k2, sess, ska, pkc) == 0 && memcmp(k1, k2, 32),
	    "another pair, another key");
	ok(secagg_pair_key(k2, sess, ska, zero) < 0, "a low-order point is "
	    "refused");

	/* the masks are the ChaCha20 keystream, across chunk boundaries */
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

	/* three devices' pair masks cancel in the sum */
	{
		uint32_t y[3][100], x[3][100], s;
		unsigned char *sk[3] = {ska, skb, skc}, *pk[3] = {pka, pkb,
			pkc};
		for (int u = 0; u < 3; u++) {
			int nt = 0;
			for (int i = 0; i < 100; i++)
				y[u][i] = x[u][i] = randombytes_uniform(1000);
			for (int v = 0; v < 3; v++) {
				if (v == u)
					continue;
				if (secagg_pair_key(keys + 32 * nt, sess, sk[u],
				    pk[v]) < 0)
					return 1;
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
	}
	/* self masks: the same key regenerates the same mask */
	secagg_self_key(k1, sess, skb);
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	signs[0] = 1;
	secagg_masks(a, 10000, k1, signs, 1);
	signs[0] = -1;
	secagg_masks(a, 10000, k1, signs, 1);
	ok(!memcmp(a, b, sizeof a), "adding then taking off a mask is the "
	    "identity");

	/* quantization */
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
	}
	ok(secagg_auto_frac(500, 4096) == 10 && secagg_auto_frac(2, 1) == 24,
	    "fraction bits: the most that keep n x clip below 2^31");
	ok(500.0 * ldexp(4096, 10) < 2147483648.0 &&
	    500.0 * ldexp(4096, 11) >= 2147483648.0, "and not one more");
	ok(secagg_auto_frac(1000000, 1e6) < 0, "an impossible clip is refused");

	/* neighbour graphs */
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
		{
			secagg_graph h;
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
	}
	okall = 1;
	for (uint32_t m = 2; m < 2000; m++) {
		int t = secagg_default_threshold(m);
		okall &= 2 * t > (int)m && t <= (int)m;
	}
	ok(okall, "default thresholds are a majority and at most m");
	ok(secagg_default_threshold(500) == 334, "2m/3 + 1 of 500 is 334");
	ok(secagg_dstep_parse("mask") == SA_MASK &&
	    secagg_nstep_parse("route-shares") == SA_ROUTE_SHARES &&
	    secagg_dstep_parse("collect-keys") < 0, "step names");
	return done_testing();
}
