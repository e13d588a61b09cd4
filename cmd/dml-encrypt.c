/* dml-encrypt: seal records to a recipient and sign the envelope; with -d,
 * verify and open envelopes addressed to us. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "sign.h"
#include "envelope.h"
#include "util.h"

static const char usage[] =
"usage: dml-encrypt -r RECIPIENT -k KEY [--scheme box] [FILE...]\n"
"       dml-encrypt -d -k KEY [--no-verify] [FILE...]\n"
"Encrypt each record for RECIPIENT (a public key in hex, a dml.pubkey file\n"
"or a key file) and write it as a dml.sealed envelope signed with KEY.\n"
"With -d, check each envelope's signature, open it with KEY and write the\n"
"records inside. Output appears only if every input was good.\n"
"  -r, --recipient KEY  who can open the envelopes\n"
"  -k, --key FILE       your secret key (signs, or opens with -d)\n"
"  -s, --scheme NAME    box: libsodium sealed box (X25519, XSalsa20-\n"
"                       Poly1305); the only scheme so far\n"
"  -d, --decrypt        open envelopes\n"
"      --no-verify      with -d, do not check envelope signatures\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

int
main(int argc, char **argv)
{
	enum { O_NOVERIFY = 256, O_VERSION };
	static const struct option opts[] = {
		{"recipient", required_argument, 0, 'r'},
		{"key", required_argument, 0, 'k'},
		{"scheme", required_argument, 0, 's'},
		{"decrypt", no_argument, 0, 'd'},
		{"no-verify", no_argument, 0, O_NOVERIFY},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *recip = NULL, *keyf = getenv("DML_KEY"), *sname = "box",
		   *out = NULL;
	int decrypt = 0, verify = 1, c, i, nfiles;
	unsigned char to[32];
	dml_key k;
	rec_out *o;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:k:s:do:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': recip = optarg; break;
		case 'k': keyf = optarg; break;
		case 's': sname = optarg; break;
		case 'd': decrypt = 1; break;
		case O_NOVERIFY: verify = 0; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (!keyf)
		dml_usage_error("-k KEY is required");
	if (!decrypt && !recip)
		dml_usage_error("-r RECIPIENT is required to encrypt");
	/* paillier and secagg transform tensors and will be added here */
	if (strcmp(sname, "box") != 0)
		dml_usage_error("unknown scheme '%s' (known: box)", sname);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (recip && !decrypt && pubkey_load(recip, to) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(o = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	nfiles = argc - optind;
	for (i = 0; i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? argv[optind + i] : NULL);
		json_t *r;
		int rc;

		if (!in)
			goto reject;
		while ((rc = rec_next(in, &r)) > 0) {
			int bad;
			json_t *e = NULL;
			if (decrypt)
				bad = envelope_open(r, in, &k, verify, &e) < 0 ||
				    rec_out_write(o, e, NULL) < 0;
			else
				bad = rec_check(in, r, NULL) < 0 ||
				    !(e = envelope_seal(r, in, to, &k)) ||
				    rec_out_write(o, e, NULL) < 0;
			json_decref(e);
			json_decref(r);
			if (bad) {
				rc = -1;
				break;
			}
		}
		if (rc == 0 && rec_count(in) == 0)
			rc = dml_error("%s: empty input: no records", rec_name(in));
		rec_close(in);
		if (rc < 0)
			goto reject;
	}
	key_free(&k);
	if (rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
reject:
	key_free(&k);
	rec_out_abort(o);
	dml_fail(DML_EXIT_REJECT);
}
