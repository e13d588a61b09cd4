/* base64 codec and the tensor wire form. */
#include "tensor.h"
#include "dmltest.h"

#include <sodium.h>
#include <stdlib.h>

int
main(void)
{
	unsigned char buf[1024], back[1100];
	char enc[1500], ref[1500];
	int all = 1;

	test_random();
	if (sodium_init() < 0)
		return 1;
	/* RFC 4648 section 10 vectors */
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
	    "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		b64_encode(enc, in[i], strlen(in[i]));
		is_str(enc, out[i], "base64 of \"%s\"", in[i]);
		long long n = b64_decode(back, out[i], strlen(out[i]));
		ok(n == (long long)strlen(in[i]) && memcmp(back, in[i], n) == 0,
		    "decode %s", out[i]);
	}
	/* agrees with libsodium on random data of every length */
	for (size_t n = 0; n < 300; n++) {
		randombytes_buf(buf, n);
		b64_encode(enc, buf, n);
		sodium_bin2base64(ref, sizeof ref, buf, n,
		    sodium_base64_VARIANT_ORIGINAL);
		if (strcmp(enc, ref) != 0 ||
		    b64_decode(back, enc, strlen(enc)) != (long long)n ||
		    memcmp(back, buf, n) != 0)
			all = 0;
	}
	ok(all, "encode and decode agree with libsodium for lengths 0..299");
	ok(b64_decode(back, "Zm9", 3) < 0, "length not a multiple of 4 refused");
	ok(b64_decode(back, "Zm9*", 4) < 0, "bad character refused");
	ok(b64_decode(back, "Zh==", 4) < 0, "non-zero unused bits refused");
	ok(b64_decode(back, "Zg=a", 4) < 0, "padding in the middle refused");
	ok(b64_decode(back, "=Zg=", 4) < 0, "leading padding refused");

	float v[3] = {1.5f, -2.0f, 0.25f};
	int64_t shape[1] = {3};
	json_t *j = tensor_to_json(DT_F32, 1, shape, v);
	dml_tensor t;
	ok(tensor_from_json(NULL, j, "x", &t) == 0 && t.n == 3 &&
	    ((float *)t.data)[1] == -2.0f, "tensor round trip");
	tensor_free(&t);
	json_object_set_new(j, "shape", json_pack("[i]", 4));
	ok(tensor_from_json(NULL, j, "x", &t) < 0, "shape not matching data refused");
	json_decref(j);
	float bad[1] = {0};
	bad[0] = 1.0f / 0.0f;
	int64_t s1[1] = {1};
	j = tensor_to_json(DT_F32, 1, s1, bad);
	ok(tensor_from_json(NULL, j, "x", &t) < 0, "infinity refused");
	json_decref(j);
	j = json_pack("{s:s,s:[i],s:s}", "dtype", "f16", "shape", 1, "data", "AAA=");
	ok(tensor_from_json(NULL, j, "x", &t) < 0, "unknown dtype refused");
	json_decref(j);
	return done_testing();
}
