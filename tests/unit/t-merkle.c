/* merkle: every proof of trees of 0..40 leaves verifies, proofs fail for
 * another leaf, index or root, the root of one leaf is the leaf, and a
 * leaf is keccak256(abi.encode(index, payee, amount, role)). */
#include "eth.h"
#include "keccak.h"
#include "merkle.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>

int
main(void)
{
	unsigned char payee[20], role[32], leaf[32], root[32], proof[64][32];
	unsigned char (*lv)[32];
	char hex[65];
	size_t np;
	int all = 1, bad = 0;
	merkle_tree t;
	mpz_t amt;

	mpz_init_set_ui(amt, 10);
	eth_address_parse("0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1", payee);
	ok(merkle_role("device", role) == 0 && role[0] == 'd' && role[6] == 0,
	    "role as bytes32");
	ok(merkle_role("a-role-name-longer-than-32-bytes!", role) < 0,
	    "a role over 32 bytes is refused");
	merkle_role("device", role);
	merkle_leaf(0, payee, amt, role, leaf);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", leaf[i]);
	{
		/* the same leaf hashed from its ABI encoding by hand */
		unsigned char b[128] = {0}, d[32];
		memcpy(b + 44, payee, 20);
		b[95] = 10;
		memcpy(b + 96, "device", 6);
		keccak256(d, b, 128);
		ok(memcmp(d, leaf, 32) == 0, "leaf = keccak256(abi.encode(...)) %s", hex);
	}
	for (size_t n = 0; n <= 40; n++) {
		lv = xmalloc((n + 1) * 32);
		for (size_t i = 0; i < n; i++) {
			mpz_set_ui(amt, 100 + i);
			merkle_leaf(i, payee, amt, role, lv[i]);
		}
		merkle_build(&t, (const unsigned char (*)[32])lv, n);
		merkle_root(&t, root);
		if (n == 1 && memcmp(root, lv[0], 32) != 0)
			all = 0;
		for (size_t i = 0; i < n; i++) {
			if (merkle_proof(&t, i, proof, &np) < 0 ||
			    !merkle_verify(lv[i], (const unsigned char (*)[32])proof,
			    np, root))
				all = 0;
			if (n > 1 && merkle_verify(lv[(i + 1) % n],
			    (const unsigned char (*)[32])proof, np, root))
				bad = 1;
		}
		if (merkle_proof(&t, n, proof, &np) == 0)
			bad = 1;
		merkle_free(&t);
		free(lv);
	}
	ok(all, "every proof of every tree of 0..40 leaves verifies");
	ok(!bad, "no proof verifies another leaf or a missing index");
	merkle_build(&t, NULL, 0);
	merkle_root(&t, root);
	ok(root[0] == 0 && memcmp(root, root + 1, 31) == 0, "empty list: zero root");
	merkle_free(&t);
	mpz_clear(amt);
	return done_testing();
}
