/* sha256: the SHA-NI code against libsodium and the FIPS 180 vectors. */
#include "sha256.h"
#include "dmltest.h"

#include <sodium.h>
#include <stdlib.h>

static void
hex(const unsigned char *d, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* both implementations (when the CPU has SHA-NI) give the vector */
static void
vector(const char *what, const void *p, size_t n, const char *want)
{
	unsigned char d[32];
	char s[65];

	sha256(d, p, n);
	hex(d, s);
	is_str(s, want, "%s (%s)", what, sha256_impl());
	sha256_allow_ni(0);
	sha256(d, p, n);
	hex(d, s);
	is_str(s, want, "%s (%s)", what, sha256_impl());
	sha256_allow_ni(1);
}

/* sha256() equals libsodium on every length from 0 to max at offsets
 * 0..3 (unaligned input) */
static int
agree(const unsigned char *buf, size_t lo, size_t hi)
{
	for (size_t n = lo; n <= hi; n++)
		for (size_t off = 0; off < 4; off++) {
			unsigned char a[32], b[32];
			sha256(a, buf + off, n);
			crypto_hash_sha256(b, buf + off, n);
			if (memcmp(a, b, 32) != 0) {
				printf("# differs at length %zu offset %zu\n", n, off);
				return 0;
			}
		}
	return 1;
}

int
main(void)
{
	static const char m448[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	size_t big = 3 * 262144 + 17;
	unsigned char *buf, *mil;

	test_random();
	if (sodium_init() < 0)
		return 1;
	printf("# implementation on this machine: %s\n", sha256_impl());
	vector("FIPS 180 \"abc\"", "abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vector("FIPS 180 empty message", "", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	vector("FIPS 180 448-bit message", m448, 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	mil = malloc(1000000);
	memset(mil, 'a', 1000000);
	vector("FIPS 180 one million 'a'", mil, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(mil);

	buf = malloc(big + 4);
	randombytes_buf(buf, big + 4);
	ok(agree(buf, 0, 300), "equals libsodium on random data, lengths 0..300, "
	    "4 alignments");
	ok(agree(buf, 262140, 262148), "lengths around one chunk");
	ok(agree(buf, big - 2, big), "a length of about 768 KiB");
	{
		unsigned char a[32], b[32];
		memset(buf, 0xff, big);
		sha256(a, buf, big);
		crypto_hash_sha256(b, buf, big);
		ok(memcmp(a, b, 32) == 0, "all-ones input");
	}
	ok(sha256_allow_ni(0) == 1 && strcmp(sha256_impl(), "libsodium") == 0,
	    "the fallback can be forced");
	sha256_allow_ni(1);
	free(buf);
	return done_testing();
}
