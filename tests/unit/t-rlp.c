/* rlp: the examples of the Ethereum yellow paper and wiki: strings,
 * integers, nested lists, the long forms at 56 bytes. */
#include "rlp.h"
#include "tap.h"

#include <stdlib.h>

static char *
hex(const rlp_buf *b)
{
	static char s[4096];

	for (size_t i = 0; i < b->n && i < 2000; i++)
		sprintf(s + 2 * i, "%02x", b->p[i]);
	s[2 * b->n] = 0;
	return s;
}

int
main(void)
{
	rlp_buf b;
	size_t m, m2, m3;
	char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
	mpz_t z;

	rlp_init(&b); rlp_bytes(&b, "dog", 3);
	is_str(hex(&b), "83646f67", "\"dog\""); rlp_free(&b);
	rlp_init(&b); m = rlp_list_begin(&b); rlp_bytes(&b, "cat", 3);
	rlp_bytes(&b, "dog", 3); rlp_list_end(&b, m);
	is_str(hex(&b), "c88363617483646f67", "[\"cat\",\"dog\"]"); rlp_free(&b);
	rlp_init(&b); rlp_bytes(&b, "", 0);
	is_str(hex(&b), "80", "empty string"); rlp_free(&b);
	rlp_init(&b); m = rlp_list_begin(&b); rlp_list_end(&b, m);
	is_str(hex(&b), "c0", "empty list"); rlp_free(&b);
	rlp_init(&b); rlp_u64(&b, 0);
	is_str(hex(&b), "80", "integer 0"); rlp_free(&b);
	rlp_init(&b); rlp_u64(&b, 15);
	is_str(hex(&b), "0f", "integer 15"); rlp_free(&b);
	rlp_init(&b); rlp_u64(&b, 1024);
	is_str(hex(&b), "820400", "integer 1024"); rlp_free(&b);
	rlp_init(&b); rlp_bytes(&b, "\x00", 1);
	is_str(hex(&b), "00", "byte 0x00"); rlp_free(&b);
	rlp_init(&b); rlp_bytes(&b, "\x80", 1);
	is_str(hex(&b), "8180", "byte 0x80"); rlp_free(&b);
	/* [ [], [[]], [ [], [[]] ] ] */
	rlp_init(&b); m = rlp_list_begin(&b);
	m2 = rlp_list_begin(&b); rlp_list_end(&b, m2);
	m2 = rlp_list_begin(&b); m3 = rlp_list_begin(&b); rlp_list_end(&b, m3);
	rlp_list_end(&b, m2);
	m2 = rlp_list_begin(&b); m3 = rlp_list_begin(&b); rlp_list_end(&b, m3);
	m3 = rlp_list_begin(&b); { size_t m4 = rlp_list_begin(&b);
	rlp_list_end(&b, m4); } rlp_list_end(&b, m3); rlp_list_end(&b, m2);
	rlp_list_end(&b, m);
	is_str(hex(&b), "c7c0c1c0c3c0c1c0", "set-theoretic three"); rlp_free(&b);
	rlp_init(&b); rlp_bytes(&b, lorem, strlen(lorem));
	ok(b.n == 58 && b.p[0] == 0xb8 && b.p[1] == 56, "56-byte string: b838 header");
	rlp_free(&b);
	rlp_init(&b); m = rlp_list_begin(&b); rlp_bytes(&b, lorem, strlen(lorem));
	rlp_list_end(&b, m);
	ok(b.n == 60 && b.p[0] == 0xf8 && b.p[1] == 58 && b.p[2] == 0xb8,
	    "list of 58 bytes: f83a header");
	rlp_free(&b);
	mpz_init_set_str(z, "100102030405060708090a0b0c0d0e0f", 16);
	rlp_init(&b); rlp_mpz(&b, z);
	is_str(hex(&b), "90100102030405060708090a0b0c0d0e0f", "big integer");
	mpz_set_ui(z, 0); rlp_free(&b); rlp_init(&b); rlp_mpz(&b, z);
	is_str(hex(&b), "80", "big integer 0");
	rlp_free(&b); mpz_clear(z);
	return done_testing();
}
