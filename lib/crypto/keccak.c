/* keccak: Keccak-f[1600] and the 1088-bit-rate sponge of Keccak-256. */
#include <string.h>

#include "keccak.h"

enum { RATE = 136 };

static const uint64_t rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
/* rho offsets and pi destinations, walking the lanes from (1,0) */
static const unsigned rotc[24] = {
	1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14,
	27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44,
};
static const unsigned piln[24] = {
	10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4,
	15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1,
};

static uint64_t
rol(uint64_t x, unsigned n)
{
	return (x << n) | (x >> (64 - n));
}

static void
keccakf(uint64_t s[25])
{
	uint64_t b[5], t;

	for (int r = 0; r < 24; r++) {
		for (int i = 0; i < 5; i++)
			b[i] = s[i] ^ s[i + 5] ^ s[i + 10] ^ s[i + 15] ^ s[i + 20];
		for (int i = 0; i < 5; i++) {
			t = b[(i + 4) % 5] ^ rol(b[(i + 1) % 5], 1);
			for (int j = 0; j < 25; j += 5)
				s[j + i] ^= t;
		}
		t = s[1];
		for (int i = 0; i < 24; i++) {
			unsigned j = piln[i];
			uint64_t u = s[j];
			s[j] = rol(t, rotc[i]);
			t = u;
		}
		for (int j = 0; j < 25; j += 5) {
			for (int i = 0; i < 5; i++)
				b[i] = s[j + i];
			for (int i = 0; i < 5; i++)
				s[j + i] ^= (~b[(i + 1) % 5]) & b[(i + 2) % 5];
		}
		s[0] ^= rc[r];
	}
}

/* xor one byte into the state, lanes little-endian */
static void
xorbyte(keccak_ctx *c, size_t i, unsigned char v)
{
	c->s[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void
keccak_init(keccak_ctx *c)
{
	memset(c, 0, sizeof *c);
}

void
keccak_update(keccak_ctx *c, const void *p, size_t n)
{
	const unsigned char *q = p;

	while (n--) {
		xorbyte(c, c->pos++, *q++);
		if (c->pos == RATE) {
			keccakf(c->s);
			c->pos = 0;
		}
	}
}

void
keccak_final(keccak_ctx *c, unsigned char out[32])
{
	xorbyte(c, c->pos, 0x01);
	xorbyte(c, RATE - 1, 0x80);
	keccakf(c->s);
	for (int i = 0; i < 32; i++)
		out[i] = (unsigned char)(c->s[i / 8] >> (8 * (i % 8)));
	memset(c, 0, sizeof *c);
}

void
keccak256(unsigned char out[32], const void *p, size_t n)
{
	keccak_ctx c;

	keccak_init(&c);
	keccak_update(&c, p, n);
	keccak_final(&c, out);
}
