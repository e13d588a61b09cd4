/* gen_registry N REGISTRAR.key OUT: a registry snapshot of N made-up
 * devices for the dml-distribute benchmark, as `dml-distribute admit`
 * would write it (a signed dml.registry header, then one canonical
 * dml.device line per device), but fast: only the devices that consent to
 * fashion-mnist (5%, the benchmark job's data type, so the only ones
 * dml-distribute ever verifies) get a real key and signature; the others
 * carry random bytes where the key and signature go. Deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "record.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

static const char *types[] = {"mnist", "health", "text", "retail"};
static const char *regions[] = {"eu", "na", "asia", "africa", "sa"};
static const char *oses[] = {"android", "ios"};
static const int rams[] = {2, 4, 6, 8, 12, 16};

int
main(int argc, char **argv)
{
	FILE *body, *out;
	char *bodyf, hex[65], b64[128], line[1024], consent[128];
	unsigned char h[32], rnd[64], seed[32];
	crypto_generichash_state st;
	dml_rng r;
	dml_key reg;
	long n;

	dml_setprog(argv[0]);
	if (argc != 4 || dml_parse_long(argv[1], 1, 100000000, &n) < 0)
		dml_die(2, "usage: gen_registry N REGISTRAR.key OUT");
	if (dml_crypto_init() < 0 || key_load(argv[2], &reg) < 0)
		dml_fail(2);
	bodyf = xasprintf("%s.body", argv[3]);
	if (!(body = fopen(bodyf, "w")))
		dml_die(2, "%s: cannot write", bodyf);
	rng_seed(&r, 20261125);
	crypto_generichash_init(&st, NULL, 0, 32);
	for (long i = 0; i < n; i++) {
		int fm = rng_below(&r, 100) < 5, len;
		const char *region = regions[rng_below(&r, 5)];
		size_t c = 0;

		consent[0] = 0;
		if (fm)
			c += (size_t)snprintf(consent, sizeof consent,
			    "\"fashion-mnist\"");
		for (int t = 0; t < 4; t++)
			if (rng_below(&r, 100) < 30)
				c += (size_t)snprintf(consent + c,
				    sizeof consent - c, "%s\"%s\"", c ? "," : "",
				    types[t]);
		for (int b = 0; b < 8; b++) {
			uint64_t x = rng_next(&r);
			memcpy(rnd + 8 * b, &x, 8);
		}
		key_hex(rnd, 32, hex);
		b64_encode(b64, rnd, 64);
		len = snprintf(line, sizeof line,
		    "{\"attrs\":{\"os\":\"%s\",\"ram_gb\":%d,\"region\":\"%s\"},"
		    "\"capacity\":1,\"consent\":[%s],\"created\":"
		    "\"2026-01-01T00:00:00Z\",\"from\":\"%s\",\"region\":\"%s\","
		    "\"sig\":\"%s\",\"type\":\"dml.device\",\"v\":1}\n",
		    oses[rng_below(&r, 2)], rams[rng_below(&r, 6)],
		    region, consent, hex, region, b64);
		if (fm) {	/* a real device: its own key and signature */
			json_t *j = json_loadb(line, (size_t)len - 1, 0, NULL);
			dml_key k;
			size_t cn;
			char *canon;
			memcpy(seed, rnd, 32);
			if (!j || key_generate(&k, seed) < 0 || rec_sign(j, &k) < 0 ||
			    !(canon = canon_dump(j, NULL, NULL, &cn)))
				dml_die(2, "cannot sign device %ld", i);
			key_free(&k);
			json_decref(j);
			memcpy(line, canon, cn);
			line[cn] = '\n';
			len = (int)cn + 1;
			free(canon);
		}
		crypto_generichash_update(&st, (unsigned char *)line, (size_t)len);
		fwrite(line, 1, (size_t)len, body);
	}
	crypto_generichash_final(&st, h, 32);
	if (fclose(body) != 0)
		dml_die(2, "%s: write failed", bodyf);
	{
		json_t *hd = rec_new("dml.registry");
		char *s;
		size_t sn, k;
		key_hex(h, 32, hex);
		json_object_set_new(hd, "devices", json_integer(n));
		json_object_set_new(hd, "hash", json_string(hex));
		json_object_set_new(hd, "created",
		    json_string("2026-01-01T00:00:00Z"));
		if (rec_sign(hd, &reg) < 0 || !(s = canon_dump(hd, NULL, NULL,
		    &sn)))
			dml_fail(2);
		if (!(out = fopen(argv[3], "w")) || !(body = fopen(bodyf, "r")))
			dml_die(2, "%s: cannot write", argv[3]);
		fwrite(s, 1, sn, out);
		fputc('\n', out);
		while ((k = fread(line, 1, sizeof line, body)) > 0)
			fwrite(line, 1, k, out);
		fclose(body);
		if (fclose(out) != 0)
			dml_die(2, "%s: write failed", argv[3]);
		remove(bodyf);
		free(s);
		json_decref(hd);
	}
	key_free(&reg);
	free(bodyf);
	return 0;
}
