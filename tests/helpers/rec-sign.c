/* rec-sign: a test helper that signs each input record with a key file,
 * so tests can build records (good and forged) by hand. */
#include <stdlib.h>

#include "record.h"
#include "sign.h"
#include "util.h"

int
main(int argc, char **argv)
{
	dml_key k;
	rec_in *in;
	json_t *r;
	int rc;

	dml_setprog(argv[0]);
	if (argc < 2 || argc > 3)
		dml_die(2, "usage: rec-sign KEY [FILE]");
	if (dml_crypto_init() < 0 || key_load(argv[1], &k) < 0)
		dml_fail(2);
	if (!(in = rec_open(argc == 3 ? argv[2] : NULL)))
		dml_fail(2);
	while ((rc = rec_next(in, &r)) > 0) {
		if (rec_detach(in, r) < 0 || rec_sign(r, &k) < 0 ||
		    rec_write(stdout, r, NULL) < 0)
			dml_fail(2);
		json_decref(r);
	}
	if (rc < 0)
		dml_fail(2);
	rec_close(in);
	key_free(&k);
	dml_close_stdout();
	return 0;
}
