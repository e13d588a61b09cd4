/* The record reader: line numbers, zero-copy strings, errors. */
#include "record.h"
#include "sign.h"
#include "util.h"
#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

static char path[] = "/tmp/t-record.XXXXXX";

static rec_in *
open_text(const char *text)
{
	int fd = mkstemp(path);
	dml_write_all(fd, text, strlen(text));
	close(fd);
	return rec_open(path);
}

int
main(void)
{
	rec_in *in;
	json_t *r;
	char big[2000], line[2200];
	const char *p;
	size_t n;

	dml_crypto_init();
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = 0;
	snprintf(line, sizeof line, "{\"type\":\"t\",\"v\":1,\"d\":\"%s\",\"s\":\"x\\ty\"}\n\n{\"a\":1}\n", big);
	in = open_text(line);
	ok(rec_next(in, &r) == 1, "first record read");
	ok(rec_str(in, json_object_get(r, "d"), &p, &n) == 0 && n == strlen(big) &&
	    memcmp(p, big, n) == 0, "long string reachable through rec_str");
	ok(json_string_length(json_object_get(r, "d")) < 20, "long string was not copied");
	char *c = canon_dump(r, in, NULL, &n);
	ok(c && n > strlen(big), "canonical dump made");
	ok(strstr(c, big) != NULL, "canonical dump holds the long string");
	free(c);
	unsigned char seed[32] = {7};
	dml_key k;
	key_generate(&k, seed);
	ok(rec_detach(in, r) == 0 && json_string_length(json_object_get(r, "d")) == strlen(big),
	    "detach copies the string into the tree");
	rec_sign(r, &k);
	key_free(&k);
	json_decref(r);
	ok(rec_next(in, &r) == 1 && rec_line(in) == 3, "blank line skipped, line 3");
	json_decref(r);
	ok(rec_next(in, &r) == 0, "end of input");
	rec_close(in);
	unlink(path);
	strcpy(path, "/tmp/t-record.XXXXXX");

	in = open_text("{\"a\":1}\n{\"a\":\n");
	rec_next(in, &r);
	json_decref(r);
	ok(rec_next(in, &r) < 0 && strstr(dml_errmsg(), ":2: malformed JSON"),
	    "malformed JSON names line 2: %s", dml_errmsg());
	rec_close(in);
	unlink(path);
	strcpy(path, "/tmp/t-record.XXXXXX");

	in = open_text("{\"a\":1}");
	ok(rec_next(in, &r) < 0 && strstr(dml_errmsg(), ":1: truncated"),
	    "missing final newline is a truncated record: %s", dml_errmsg());
	rec_close(in);
	unlink(path);
	strcpy(path, "/tmp/t-record.XXXXXX");

	in = open_text("{\"a\":\"\\u0000zz\"}\n[1]\n");
	ok(rec_next(in, &r) < 0 && strstr(dml_errmsg(), "NUL"), "\\u0000 refused");
	ok(rec_next(in, &r) < 0 && strstr(dml_errmsg(), "object"), "array refused");
	rec_close(in);
	unlink(path);

	ok(rec_open("/nonexistent/x") == NULL && strstr(dml_errmsg(), "No such file"),
	    "missing file: %s", dml_errmsg());
	json_t *t = json_pack("{s:s,s:i,s:s}", "type", "dml.x", "v", 2, "a", "12");
	ok(rec_check(NULL, t, "dml.x") < 0 && strstr(dml_errmsg(), "version 2"),
	    "unknown major version refused");
	json_object_set_new(t, "v", json_integer(1));
	ok(rec_check(NULL, t, "dml.y") < 0, "wrong type refused");
	ok(rec_get_amount(NULL, t, "a", &p) == 0, "amount accepted");
	json_object_set_new(t, "a", json_string("012"));
	ok(rec_get_amount(NULL, t, "a", &p) < 0, "amount with a leading zero refused");
	json_object_set_new(t, "a", json_integer(12));
	ok(rec_get_amount(NULL, t, "a", &p) < 0, "amount as a JSON number refused");
	json_decref(t);
	return done_testing();
}
