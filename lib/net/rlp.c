/* rlp: the encoder; items are appended in place, list headers inserted. */
#include <stdlib.h>
#include <string.h>

#include "rlp.h"
#include "util.h"

void
rlp_init(rlp_buf *b)
{
	memset(b, 0, sizeof *b);
}

void
rlp_free(rlp_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static void
reserve(rlp_buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	b->cap = (b->n + more) * 2 + 64;
	b->p = xrealloc(b->p, b->cap);
}

void
rlp_raw(rlp_buf *b, const void *p, size_t n)
{
	reserve(b, n);
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* the header of a payload of n bytes: offset 0x80 for strings, 0xc0 for
 * lists; short form below 56 bytes, else the length's own length */
static size_t
header(unsigned char h[9], size_t n, unsigned char base)
{
	unsigned char len[8];
	size_t k = 0;

	if (n < 56) {
		h[0] = (unsigned char)(base + n);
		return 1;
	}
	for (size_t v = n; v; v >>= 8)
		len[k++] = (unsigned char)v;
	h[0] = (unsigned char)(base + 55 + k);
	for (size_t i = 0; i < k; i++)
		h[1 + i] = len[k - 1 - i];
	return 1 + k;
}

void
rlp_bytes(rlp_buf *b, const void *p, size_t n)
{
	unsigned char h[9];

	if (n == 1 && *(const unsigned char *)p < 0x80) {
		rlp_raw(b, p, 1);
		return;
	}
	rlp_raw(b, h, header(h, n, 0x80));
	rlp_raw(b, p, n);
}

void
rlp_u64(rlp_buf *b, uint64_t v)
{
	unsigned char be[8];
	size_t k = 0;

	for (int i = 7; i >= 0; i--)
		if (k || (v >> (8 * i)) & 0xff)
			be[k++] = (unsigned char)(v >> (8 * i));
	rlp_bytes(b, be, k);
}

void
rlp_mpz(rlp_buf *b, const mpz_t v)
{
	size_t k = 0;
	unsigned char *be = NULL;

	if (mpz_sgn(v) > 0)
		be = mpz_export(NULL, &k, 1, 1, 1, 0, v);
	rlp_bytes(b, be, k);
	free(be);
}

size_t
rlp_list_begin(const rlp_buf *b)
{
	return b->n;
}

void
rlp_list_end(rlp_buf *b, size_t mark)
{
	unsigned char h[9];
	size_t k = header(h, b->n - mark, 0xc0);

	reserve(b, k);
	memmove(b->p + mark + k, b->p + mark, b->n - mark);
	memcpy(b->p + mark, h, k);
	b->n += k;
}
