/* secagg primitives: the hashes that name keys and sessions, the pair and
 * self mask keys, the keystream masks added modulo 2^32 (an AVX-512
 * ChaCha20 where the CPU has it, libsodium's elsewhere: the same bytes),
 * quantization, and the neighbour graph of SecAgg+. Nothing here reads a
 * record. See secagg.h. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_private.h"
#include "util.h"

const char *const sa_dstep_name[4] = {"advertise", "share", "mask",
	"unmask"};
const char *const sa_nstep_name[4] = {"collect-keys", "route-shares",
	"collect-masked", "unmask"};

static int
step_index(const char *const names[4], const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
secagg_dstep_parse(const char *s)
{
	return step_index(sa_dstep_name, s);
}

int
secagg_nstep_parse(const char *s)
{
	return step_index(sa_nstep_name, s);
}

void
sa_hash3(unsigned char out[32], const char *domain, const unsigned char *a,
    size_t an, const unsigned char *b, size_t bn)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)domain,
	    strlen(domain) + 1);
	crypto_generichash_update(&st, a, an);
	if (b)
		crypto_generichash_update(&st, b, bn);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof st);
}

void
secagg_self_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char b[32])
{
	sa_hash3(key, "dml-secagg-self-v1", session, 32, b, 32);
}

int
secagg_pair_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char sk[32], const unsigned char pk[32])
{
	unsigned char sh[32];

	if (crypto_scalarmult(sh, sk, pk) != 0)
		return dml_error("a mask key is a low-order point");
	sa_hash3(key, "dml-secagg-pair-v1", session, 32, sh, 32);
	sodium_memzero(sh, sizeof sh);
	return 0;
}

void
sa_commit_b(unsigned char bc[32], const unsigned char b[32])
{
	sa_hash3(bc, "dml-secagg-commit-v1", b, 32, NULL, 0);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_MASKS 1

#define ADD(a, b) _mm512_add_epi32(a, b)
#define QR(a, b, c, d) do { \
	a = ADD(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16); \
	c = ADD(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12); \
	a = ADD(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8); \
	c = ADD(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7); \
} while (0)

/* acc[16 b0 ...] +=/-= the ChaCha20 keystream (nonce 0) of blocks
 * b0 .. b0 + 16 g - 1 under key: 16 blocks at once, one per lane, the
 * result transposed to the keystream's order and added in place. The
 * same keystream as crypto_stream_chacha20, without the buffer. */
__attribute__((target("avx512f"))) static void
masks_avx512(uint32_t *acc, uint64_t b0, size_t g, const unsigned char *key,
    int sign)
{
	uint32_t k[8];
	__m512i in[16], x[16], t[16], u[16];

	memcpy(k, key, 32);
	in[0] = _mm512_set1_epi32(0x61707865);
	in[1] = _mm512_set1_epi32(0x3320646e);
	in[2] = _mm512_set1_epi32(0x79622d32);
	in[3] = _mm512_set1_epi32(0x6b206574);
	for (int i = 0; i < 8; i++)
		in[4 + i] = _mm512_set1_epi32((int)k[i]);
	in[14] = in[15] = _mm512_setzero_si512();
	for (size_t q = 0; q < g; q++, b0 += 16) {
		in[12] = ADD(_mm512_set1_epi32((int)(uint32_t)b0),
		    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
		    12, 13, 14, 15));
		in[13] = _mm512_set1_epi32((int)(uint32_t)(b0 >> 32));
		for (int i = 0; i < 16; i++)
			x[i] = in[i];
		for (int r = 0; r < 10; r++) {
			QR(x[0], x[4], x[8], x[12]);
			QR(x[1], x[5], x[9], x[13]);
			QR(x[2], x[6], x[10], x[14]);
			QR(x[3], x[7], x[11], x[15]);
			QR(x[0], x[5], x[10], x[15]);
			QR(x[1], x[6], x[11], x[12]);
			QR(x[2], x[7], x[8], x[13]);
			QR(x[3], x[4], x[9], x[14]);
		}
		for (int i = 0; i < 16; i++)
			x[i] = ADD(x[i], in[i]);
		/* transpose: u[4 s + r], 128-bit lane L, holds words 4 s ..
		 * 4 s + 3 of block 4 L + r */
		for (int i = 0; i < 16; i += 4) {
			t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
			t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
			t[i + 2] = _mm512_unpacklo_epi32(x[i + 2], x[i + 3]);
			t[i + 3] = _mm512_unpackhi_epi32(x[i + 2], x[i + 3]);
			u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
			u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
			u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
			u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
		}
		for (int r = 0; r < 4; r++) {
			__m512i p0 = _mm512_shuffle_i32x4(u[r], u[4 + r], 0x44),
				p1 = _mm512_shuffle_i32x4(u[r], u[4 + r], 0xee),
				p2 = _mm512_shuffle_i32x4(u[8 + r], u[12 + r],
				    0x44),
				p3 = _mm512_shuffle_i32x4(u[8 + r], u[12 + r],
				    0xee), row[4];
			row[0] = _mm512_shuffle_i32x4(p0, p2, 0x88);
			row[1] = _mm512_shuffle_i32x4(p0, p2, 0xdd);
			row[2] = _mm512_shuffle_i32x4(p1, p3, 0x88);
			row[3] = _mm512_shuffle_i32x4(p1, p3, 0xdd);
			for (int l = 0; l < 4; l++) {
				uint32_t *a = acc + 16 * (4 * (size_t)l + (size_t)r);
				__m512i v = _mm512_loadu_si512(a);
				v = sign > 0 ? ADD(v, row[l]) :
				    _mm512_sub_epi32(v, row[l]);
				_mm512_storeu_si512(a, v);
			}
		}
		acc += 256;
	}
	sodium_memzero(k, sizeof k);
}
#undef QR
#undef ADD
#endif

/* acc[0 .. m) +=/-= the keystream from u32 offset off (a multiple of 16)
 * on, through libsodium's buffer. */
static void
masks_sodium(uint32_t *acc, size_t off, size_t m, const unsigned char *key,
    int sign, uint32_t *ks)
{
	static const unsigned char nonce[8];
	static const uint32_t zero[SECAGG_CHUNK];

	crypto_stream_chacha20_xor_ic((unsigned char *)ks,
	    (const unsigned char *)zero, m * 4, nonce, off / 16, key);
	if (sign > 0)
		for (size_t i = 0; i < m; i++)
			acc[i] += ks[i];
	else
		for (size_t i = 0; i < m; i++)
			acc[i] -= ks[i];
}

void
secagg_masks(uint32_t *acc, size_t len, const unsigned char *keys,
    const signed char *signs, size_t nterms)
{
	uint32_t *ks = xmalloc(SECAGG_CHUNK * sizeof *ks);
	int wide = 0;

#ifdef HAVE_AVX512_MASKS
	wide = __builtin_cpu_supports("avx512f");
#endif
	/* chunk-major: the accumulator's chunk stays in cache while every
	 * term's keystream for it is made and added */
	for (size_t off = 0; off < len; off += SECAGG_CHUNK) {
		size_t m = len - off < SECAGG_CHUNK ? len - off : SECAGG_CHUNK,
		       g = wide ? m / 256 : 0;
		for (size_t j = 0; j < nterms; j++) {
#ifdef HAVE_AVX512_MASKS
			if (g)
				masks_avx512(acc + off, off / 16, g,
				    keys + 32 * j, signs[j]);
#endif
			if (m > 256 * g)
				masks_sodium(acc + off + 256 * g, off + 256 * g,
				    m - 256 * g, keys + 32 * j, signs[j], ks);
		}
	}
	sodium_memzero(ks, SECAGG_CHUNK * sizeof *ks);
	free(ks);
}

int
secagg_auto_frac(long long n, double clip)
{
	for (int f = 24; f >= 0; f--)
		if ((double)n * floor(ldexp(clip, f)) < 2147483648.0)
			return f;
	return dml_error("%lld devices cannot sum values clipped to %g in "
	    "32 bits: lower --clip", n, clip);
}

int
secagg_quantize(const double *x, size_t n, double clip, int frac,
    uint32_t *q, size_t *clipped)
{
	double m = floor(ldexp(clip, frac));

	*clipped = 0;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (!isfinite(v))
			return dml_error("value %zu is not finite", i);
		if (v > clip || v < -clip) {
			v = v > 0 ? clip : -clip;
			(*clipped)++;
		}
		v = round(ldexp(v, frac));
		if (v > m)
			v = m;
		if (v < -m)
			v = -m;
		q[i] = (uint32_t)(int64_t)v;
	}
	return 0;
}

int
secagg_default_threshold(uint32_t m)
{
	int t = (int)(2 * m / 3 + 1);

	if (t <= (int)m / 2)
		t = (int)m / 2 + 1;
	return t > (int)m ? (int)m : t;
}

void
secagg_graph_init(secagg_graph *g, const unsigned char session[32],
    uint32_t n, uint32_t k)
{
	unsigned char key[32];
	uint32_t *r;

	memset(g, 0, sizeof *g);
	g->n = n;
	if (k == 0 || k >= n - 1) {
		g->full = 1;
		g->k = n - 1;
		return;
	}
	g->k = k + (k & 1);
	if (g->k >= n - 1) {
		g->full = 1;
		g->k = n - 1;
		return;
	}
	/* Fisher-Yates on a keystream under the session's hash */
	sa_hash3(key, "dml-secagg-graph-v1", session, 32, NULL, 0);
	g->perm = xmalloc(n * sizeof *g->perm);
	g->pos = xmalloc((n + 1) * sizeof *g->pos);
	r = xmalloc(n * sizeof *r);
	{
		static const unsigned char nonce[8];
		memset(r, 0, n * sizeof *r);
		crypto_stream_chacha20_xor((unsigned char *)r,
		    (unsigned char *)r, n * sizeof *r, nonce, key);
	}
	for (uint32_t i = 0; i < n; i++)
		g->perm[i] = i + 1;
	for (uint32_t i = n - 1; i > 0; i--) {
		/* 32 random bits mod (i + 1): bias below 2^-8 for n < 2^24,
		 * and the graph is public anyway */
		uint32_t j = (uint32_t)(((uint64_t)r[i] * (i + 1)) >> 32), t;
		t = g->perm[i];
		g->perm[i] = g->perm[j];
		g->perm[j] = t;
	}
	for (uint32_t i = 0; i < n; i++)
		g->pos[g->perm[i]] = i;
	free(r);
}

void
secagg_graph_free(secagg_graph *g)
{
	free(g->perm);
	free(g->pos);
	g->perm = g->pos = NULL;
}

int
secagg_adjacent(const secagg_graph *g, uint32_t a, uint32_t b)
{
	uint32_t d;

	if (a == b)
		return 0;
	if (g->full)
		return 1;
	d = g->pos[a] > g->pos[b] ? g->pos[a] - g->pos[b] :
	    g->pos[b] - g->pos[a];
	if (d > g->n - d)
		d = g->n - d;
	return d <= g->k / 2;
}

int
sa_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t
secagg_neighbours(const secagg_graph *g, uint32_t i, uint32_t *out)
{
	uint32_t c = 0;

	if (g->full) {
		for (uint32_t j = 1; j <= g->n; j++)
			if (j != i)
				out[c++] = j;
		return c;
	}
	for (uint32_t d = 1; d <= g->k / 2; d++) {
		out[c++] = g->perm[(g->pos[i] + d) % g->n];
		out[c++] = g->perm[(g->pos[i] + g->n - d) % g->n];
	}
	qsort(out, c, sizeof *out, sa_cmp_u32);
	return c;
}
