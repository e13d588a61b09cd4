/* Record signatures: sign, verify, tamper, sealed boxes. */
#include "sign.h"
#include "util.h"
#include "dmltest.h"

#include <stdlib.h>

int
main(void)
{
	dml_key k, k2;
	unsigned char seed[32] = {1}, pk[32];
	json_t *r;

	test_random();
	if (dml_crypto_init() < 0)
		return 1;
	ok(key_generate(&k, seed) == 0, "key from a seed");
	ok(key_generate(&k2, NULL) == 0, "random key");
	r = json_pack("{s:s,s:i,s:s,s:f}", "type", "dml.test", "v", 1, "job",
	    "bafy", "x", 0.5);
	ok(rec_sign(r, &k) == 0, "sign");
	ok(rec_verify(r, NULL, pk) == 0 && memcmp(pk, k.pk, 32) == 0,
	    "verify names the signer");
	json_object_set_new(r, "x", json_real(0.25));
	ok(rec_verify(r, NULL, NULL) < 0, "a changed field breaks the signature");
	json_object_set_new(r, "x", json_real(0.5));
	ok(rec_verify(r, NULL, NULL) == 0, "restored field verifies again");
	char hex[65];
	key_hex(k2.pk, 32, hex);
	json_object_set_new(r, "from", json_string(hex));
	ok(rec_verify(r, NULL, NULL) < 0, "another signer's key is refused");
	json_decref(r);

	unsigned char *ct, *m;
	size_t ctn, mn;
	ok(box_seal(k.pk, "secret", 6, &ct, &ctn) == 0, "seal");
	ok(box_open(&k, ct, ctn, &m, &mn) == 0 && mn == 6 &&
	    memcmp(m, "secret", 6) == 0, "open with the recipient's key");
	sodium_free(m);
	ok(box_open(&k2, ct, ctn, &m, &mn) < 0, "another key cannot open it");
	ct[ctn - 1] ^= 1;
	ok(box_open(&k, ct, ctn, &m, &mn) < 0, "an altered box is refused");
	free(ct);
	key_free(&k);
	key_free(&k2);
	return done_testing();
}
