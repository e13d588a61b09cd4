/* dml-keygen: make an identity (Ed25519; X25519 for sealed boxes derived
 * from it) and print its public key record. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-keygen -o FILE [--name NAME] [--seed TEXT]\n"
"       dml-keygen -p FILE\n"
"Make a new identity: the secret key goes to FILE (created, mode 0600, never\n"
"overwritten) and its dml.pubkey record to stdout.\n"
"  -o, --output FILE   secret key file to create\n"
"  -p, --public FILE   print the dml.pubkey record of an existing key\n"
"  -n, --name NAME     a label carried in the public key record\n"
"      --seed TEXT     derive the key from TEXT and NAME (test and demo\n"
"                      identities only: anyone who knows TEXT has the key)\n"
"  -h, --help          this help\n"
"      --version       print the version\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},
		{"public", required_argument, 0, 'p'},
		{"name", required_argument, 0, 'n'},
		{"seed", required_argument, 0, 'S'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *out = NULL, *pub = NULL, *name = NULL, *seedtext = NULL;
	unsigned char *seed = NULL;
	dml_key k;
	json_t *r;
	int c;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "o:p:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pub = optarg; break;
		case 'n': name = optarg; break;
		case 'S': seedtext = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case 'V': dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!out == !pub)
		dml_usage_error("give exactly one of -o FILE or -p FILE");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (pub) {
		if (key_load(pub, &k) < 0)
			dml_fail(DML_EXIT_REJECT);
	} else {
		if (seedtext) {
			/* BLAKE2b-256 keyed by the text, over the name */
			seed = sodium_malloc(32);
			if (!seed)
				dml_die(DML_EXIT_USAGE, "out of secure memory");
			crypto_generichash(seed, 32,
			    (const unsigned char *)(name ? name : ""),
			    name ? strlen(name) : 0,
			    (const unsigned char *)seedtext,
			    strlen(seedtext) > 64 ? 64 : strlen(seedtext));
		}
		if (key_generate(&k, seed) < 0)
			dml_fail(DML_EXIT_USAGE);
		if (seed)
			sodium_free(seed);
		if (key_save(out, &k) < 0) {
			key_free(&k);
			dml_fail(DML_EXIT_USAGE);
		}
	}
	r = key_pubrecord(k.pk, name);
	key_free(&k);
	if (rec_write(stdout, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	dml_close_stdout();
	return 0;
}
