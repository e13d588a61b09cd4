/* sha256: SHA-256 on the x86 SHA extensions, libsodium otherwise. */
#include "sha256.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_SHA_NI_CODE 1
#include <immintrin.h>
#endif

static int allow_ni = 1;

#ifdef HAVE_SHA_NI_CODE

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

/*
 * Compress nblk 64-byte blocks into h[8] (a..h). The state lives in two
 * registers as the instructions want it: abef = {f,e,b,a} and cdgh =
 * {h,g,d,c} from the low lane up. Each sha256rnds2 does two rounds with
 * the low two words of its third operand (message words plus constants)
 * and returns the new {a,b,e,f}; the old {a,b,e,f} is then the new
 * {c,d,g,h}, so the two registers trade places every two rounds. The
 * message schedule keeps 16 words in four registers w[0..3]:
 * W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..]).
 */
__attribute__((target("sha,sse4.1")))
static void
compress_ni(uint32_t h[8], const unsigned char *p, size_t nblk)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i t, abef, cdgh, abef0, cdgh0, w[4], m;

	t = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);	/* d c b a */
	cdgh = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);	/* h g f e */
	t = _mm_shuffle_epi32(t, 0xb1);			/* c d a b */
	cdgh = _mm_shuffle_epi32(cdgh, 0x1b);		/* e f g h */
	abef = _mm_alignr_epi8(t, cdgh, 8);		/* a b e f */
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);		/* c d g h */

	for (; nblk; nblk--, p += 64) {
		abef0 = abef;
		cdgh0 = cdgh;
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i *x = &w[i & 3];
			if (i < 4) {
				*x = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(const void *)(p + 16 * i)),
				    bswap);
			} else {
				__m128i w3 = w[(i + 3) & 3];	/* W[t-4..t-1] */
				*x = _mm_sha256msg1_epu32(*x, w[(i + 1) & 3]);
				*x = _mm_add_epi32(*x,
				    _mm_alignr_epi8(w3, w[(i + 2) & 3], 4));
				*x = _mm_sha256msg2_epu32(*x, w3);
			}
			m = _mm_add_epi32(*x, _mm_loadu_si128(
			    (const __m128i *)(const void *)&K[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
			m = _mm_shuffle_epi32(m, 0x0e);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, m);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	t = _mm_shuffle_epi32(abef, 0x1b);		/* a b e f -> f e b a */
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);		/* c d g h -> d c h g */
	abef = _mm_blend_epi16(t, cdgh, 0xf0);		/* d c b a */
	cdgh = _mm_alignr_epi8(cdgh, t, 8);		/* h g f e */
	_mm_storeu_si128((__m128i *)(void *)&h[0], abef);
	_mm_storeu_si128((__m128i *)(void *)&h[4], cdgh);
}

/* libgcc fills in the CPU model before main: a load, no lock needed */
static int
cpu_has_sha_ni(void)
{
	return __builtin_cpu_supports("sha") &&
	    __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}

static void
sha256_ni(unsigned char out[32], const unsigned char *p, size_t n)
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	unsigned char tail[128];
	size_t full = n / 64, rest = n % 64, tn;
	uint64_t bits = (uint64_t)n * 8;

	compress_ni(h, p, full);
	/* padding: 0x80, zeros, the 64-bit big-endian bit length */
	memset(tail, 0, sizeof tail);
	if (rest)
		memcpy(tail, p + full * 64, rest);
	tail[rest] = 0x80;
	tn = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tn - 1 - i] = (unsigned char)(bits >> (8 * i));
	compress_ni(h, tail, tn / 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

#endif /* HAVE_SHA_NI_CODE */

void
sha256(unsigned char out[32], const void *p, size_t n)
{
#ifdef HAVE_SHA_NI_CODE
	if (allow_ni && cpu_has_sha_ni()) {
		sha256_ni(out, p, n);
		return;
	}
#endif
	crypto_hash_sha256(out, p, n);
}

const char *
sha256_impl(void)
{
#ifdef HAVE_SHA_NI_CODE
	if (allow_ni && cpu_has_sha_ni())
		return "sha-ni";
#endif
	return "libsodium";
}

int
sha256_allow_ni(int on)
{
	int old = allow_ni;
	allow_ni = on;
	return old;
}
