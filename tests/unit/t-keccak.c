/* keccak: Keccak-256 against published vectors (the empty string, "abc",
 * the 200-byte 0xa3 message that crosses a block, checked also with js-sha3, Ethereum's
 * transfer(address,uint256) selector) and incremental = one-shot. */
#include "keccak.h"
#include "tap.h"

#include <stdlib.h>

static void
hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
vector(const char *what, const void *p, size_t n, const char *want)
{
	unsigned char d[32];
	char s[65];

	keccak256(d, p, n);
	hex(d, 32, s);
	is_str(s, want, "%s", what);
}

int
main(void)
{
	unsigned char a3[200], big[1000], d1[32], d2[32];
	char s[9];
	keccak_ctx c;

	vector("empty", "", 0,
	    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	vector("abc", "abc", 3,
	    "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
	vector("quick brown fox", "The quick brown fox jumps over the lazy dog", 43,
	    "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
	memset(a3, 0xa3, sizeof a3);
	vector("200 x 0xa3", a3, sizeof a3,
	    "3a57666b048777f2c953dc4456f45a2588e1cb6f2da760122d530ac2ce607d4a");
	keccak256(d1, "transfer(address,uint256)", 25);
	hex(d1, 4, s);
	is_str(s, "a9059cbb", "ERC-20 transfer selector");
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	keccak256(d1, big, sizeof big);
	keccak_init(&c);
	for (size_t i = 0; i < sizeof big; i += 37)
		keccak_update(&c, big + i, i + 37 > sizeof big ? sizeof big - i : 37);
	keccak_final(&c, d2);
	ok(memcmp(d1, d2, 32) == 0, "incremental equals one-shot");
	return done_testing();
}
