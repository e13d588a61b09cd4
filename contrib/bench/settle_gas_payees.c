/* settle_gas_payees N SEED: N device identities for contrib/bench/settle-gas.sh,
 * fast: their hex keys (sorted by the caller) on stdout and, on fd 3, one
 * signed dml.eth.payee record each, every device paid at a distinct address
 * derived from its key. Test identities only (seeded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keccak.h"
#include "eth.h"
#include "record.h"
#include "sign.h"
#include "util.h"

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[1]) : 0;
	FILE *book = fdopen(3, "w");
	unsigned char seed[32], h[32];
	char hex[65], addr[43];

	if (n <= 0 || !book || dml_crypto_init() < 0) {
		fprintf(stderr, "usage: settle_gas_payees N SEED 3>book\n");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		char tag[64];
		dml_key k;
		json_t *r;
		snprintf(tag, sizeof tag, "%s/%ld", argv[2], i);
		keccak256(seed, tag, strlen(tag));
		if (key_generate(&k, seed) < 0)
			return 2;
		key_hex(k.pk, 32, hex);
		keccak256(h, k.pk, 32);
		eth_address_str(h + 12, addr);
		r = rec_new("dml.eth.payee");
		json_object_set_new(r, "address", json_string(addr));
		if (rec_sign(r, &k) < 0 || rec_write(book, r, NULL) < 0)
			return 2;
		json_decref(r);
		key_free(&k);
		printf("%s\n", hex);
	}
	return fclose(book) || fclose(stdout) ? 2 : 0;
}
