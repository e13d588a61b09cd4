/* merkle: sorted-pair Keccak-256 tree; see merkle.h. */
#include <stdlib.h>
#include <string.h>

#include "keccak.h"
#include "merkle.h"
#include "util.h"

int
merkle_role(const char *role, unsigned char out[32])
{
	size_t n = strlen(role);

	if (n > 32)
		return dml_error("role '%s' longer than 32 bytes", role);
	memset(out, 0, 32);
	memcpy(out, role, n);
	return 0;
}

void
merkle_leaf(uint64_t index, const unsigned char payee[20], const mpz_t amount,
    const unsigned char role[32], unsigned char out[32])
{
	unsigned char b[128] = {0};
	size_t k;

	for (int i = 0; i < 8; i++)
		b[31 - i] = (unsigned char)(index >> (8 * i));
	memcpy(b + 32 + 12, payee, 20);
	if (mpz_sgn(amount) > 0 && (k = mpz_sizeinbase(amount, 256)) <= 32)
		mpz_export(b + 96 - k, NULL, 1, 1, 1, 0, amount);
	memcpy(b + 96, role, 32);
	keccak256(out, b, sizeof b);
}

static void
pair(const unsigned char a[32], const unsigned char b[32], unsigned char out[32])
{
	unsigned char buf[64];
	int lt = memcmp(a, b, 32) < 0;

	memcpy(buf, lt ? a : b, 32);
	memcpy(buf + 32, lt ? b : a, 32);
	keccak256(out, buf, 64);
}

void
merkle_build(merkle_tree *t, const unsigned char (*leaves)[32], size_t n)
{
	size_t cap = 1;

	memset(t, 0, sizeof *t);
	for (size_t m = n; m > 1; m = (m + 1) / 2)
		cap++;
	t->lv = xcalloc(cap, sizeof *t->lv);
	t->len = xcalloc(cap, sizeof *t->len);
	t->lv[0] = xmalloc((n ? n : 1) * 32);
	if (n)
		memcpy(t->lv[0], leaves, n * 32);
	t->len[0] = n;
	t->nlv = 1;
	while (t->len[t->nlv - 1] > 1) {
		size_t m = t->len[t->nlv - 1], h = (m + 1) / 2;
		unsigned char (*lo)[32] = t->lv[t->nlv - 1];
		unsigned char (*up)[32] = xmalloc(h * 32);
		for (size_t i = 0; i < m / 2; i++)
			pair(lo[2 * i], lo[2 * i + 1], up[i]);
		if (m % 2)
			memcpy(up[h - 1], lo[m - 1], 32);
		t->lv[t->nlv] = up;
		t->len[t->nlv++] = h;
	}
}

void
merkle_root(const merkle_tree *t, unsigned char out[32])
{
	if (t->len[0] == 0)
		memset(out, 0, 32);
	else
		memcpy(out, t->lv[t->nlv - 1][0], 32);
}

int
merkle_proof(const merkle_tree *t, size_t i, unsigned char (*proof)[32],
    size_t *np)
{
	if (i >= t->len[0])
		return dml_error("leaf %zu of %zu", i, t->len[0]);
	*np = 0;
	for (size_t l = 0; l + 1 < t->nlv; l++, i /= 2) {
		size_t s = i ^ 1;
		if (s < t->len[l])
			memcpy(proof[(*np)++], t->lv[l][s], 32);
	}
	return 0;
}

void
merkle_free(merkle_tree *t)
{
	for (size_t l = 0; l < t->nlv; l++)
		free(t->lv[l]);
	free(t->lv);
	free(t->len);
	memset(t, 0, sizeof *t);
}

int
merkle_verify(const unsigned char leaf[32], const unsigned char (*proof)[32],
    size_t np, const unsigned char root[32])
{
	unsigned char h[32];

	memcpy(h, leaf, 32);
	for (size_t i = 0; i < np; i++)
		pair(h, proof[i], h);
	return memcmp(h, root, 32) == 0;
}
