/*
 * record: line-delimited JSON records in and out.
 *
 * A reader hands out one jansson object per line and knows where it came
 * from ("file:line"), so every diagnostic can name the input. Long strings
 * made only of printable ASCII (tensor data, ciphertexts) are not copied
 * into the jansson tree: the tree holds a placeholder and the bytes stay in
 * the reader's line buffer, reachable through rec_str(). Such a record is
 * valid until the next rec_next() unless rec_detach() makes it standalone.
 *
 * Output is always the canonical form (RFC 8785: sorted keys, compact,
 * shortest round-trip numbers), one record per line. A rec_out collects a
 * program's output and makes it visible only at rec_out_commit(), so bad
 * input never leaves partial output behind.
 *
 * Not for: what a record means (see job, aggregate, ...).
 */
#ifndef DML_RECORD_H
#define DML_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Schema major version every record type is at. */
#define DML_RECORD_V 1
/* Strings at least this long take the zero-copy path. */
#define REC_BIG_STRING 256

typedef struct rec_in rec_in;

/* Open a record stream: NULL or "-" is stdin. NULL + dml_error on failure. */
rec_in *rec_open(const char *path);
/* Read the next record (a JSON object). 1: *out set (caller decrefs),
 * 0: end of input, -1: dml_error "name:line: what". Blank lines are skipped;
 * a last line without its newline is an error (truncated input). */
int rec_next(rec_in *in, json_t **out);
/* rec_next for a reader that wants only the lines holding `needle`: a
 * line without it is not parsed (2, *out NULL, its bytes in rec_raw). */
int rec_next_if(rec_in *in, const char *needle, json_t **out);
const char *rec_name(const rec_in *in);
long rec_line(const rec_in *in);
/* Number of records returned so far. */
long rec_count(const rec_in *in);
void rec_close(rec_in *in);
/* Turn off the zero-copy path (every string copied into the tree). */
void rec_set_copy(rec_in *in, int on);
/* Raw bytes of the current line (without newline); valid until next read. */
const char *rec_raw(const rec_in *in, size_t *len);

/* Bytes of a string value, whether in the tree or in the line buffer.
 * `in` may be NULL for standalone records. -1 if j is not a string. */
int rec_str(const rec_in *in, const json_t *j, const char **p, size_t *n);
/* Replace every placeholder in j by a real string so j outlives the line. */
int rec_detach(const rec_in *in, json_t *j);

/* Error helper: dml_error("name:line: fmt") for the current record. */
int rec_err(const rec_in *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Field access with validation; each returns -1 with a dml_error naming the
 * field (and the input position if `in` is given). */
int rec_check(const rec_in *in, const json_t *r, const char *type);
int rec_get_str(const rec_in *in, const json_t *r, const char *key,
    const char **out);
int rec_get_int(const rec_in *in, const json_t *r, const char *key,
    long long lo, long long hi, long long *out);
int rec_get_num(const rec_in *in, const json_t *r, const char *key,
    double *out);
/* Optional variants: leave *out unchanged when the key is absent. */
int rec_opt_str(const rec_in *in, const json_t *r, const char *key,
    const char **out);
int rec_opt_int(const rec_in *in, const json_t *r, const char *key,
    long long lo, long long hi, long long *out);
int rec_opt_num(const rec_in *in, const json_t *r, const char *key,
    double *out);
json_t *rec_get_obj(const rec_in *in, const json_t *r, const char *key);
json_t *rec_get_arr(const rec_in *in, const json_t *r, const char *key);
/* A decimal string holding a non-negative integer token amount. */
int rec_get_amount(const rec_in *in, const json_t *r, const char *key,
    const char **out);

/* The one record of a file: NULL with dml_error if the file is empty,
 * malformed or holds more than one record. *in is left open (for
 * positions in messages; the record's strings are copied); the caller
 * closes it. */
json_t *rec_read_one(const char *path, rec_in **in);

/* New record {"type": type, "v": 1}. */
json_t *rec_new(const char *type);

/* Canonical serialisation. A sink receives the bytes in order. */
typedef int (*canon_sink)(void *ctx, const void *p, size_t n);
/* Emit j canonically; `skip` (may be NULL) is a top-level key left out.
 * `src` resolves zero-copy strings (may be NULL). */
int canon_emit(const json_t *j, const rec_in *src, const char *skip,
    canon_sink sink, void *ctx);
/* Canonical bytes as a malloc'd NUL-terminated string (no newline). */
char *canon_dump(const json_t *j, const rec_in *src, const char *skip,
    size_t *len);
/* Format a double as ECMAScript does (RFC 8785 numbers). buf >= 32. */
int canon_double(double d, char *buf);

/* Buffered record output that appears only at commit. */
typedef struct rec_out rec_out;
/* path NULL or "-": stdout (spooled, copied at commit); else a file written
 * via temporary + rename at commit. */
rec_out *rec_out_open(const char *path);
int rec_out_write(rec_out *o, const json_t *j, const rec_in *src);
/* Write raw bytes (must already be whole lines). */
int rec_out_raw(rec_out *o, const void *p, size_t n);
int rec_out_commit(rec_out *o);
void rec_out_abort(rec_out *o);

/* Write one record to path (NULL or "-": stdout), whole or not at all. */
int rec_out_one(const char *path, const json_t *j, const rec_in *src);

/* Write one canonical record line to a stdio stream. */
int rec_write(FILE *f, const json_t *j, const rec_in *src);

/* Main's last step when its answer is one record: write R to stdout,
 * release it and close stdout; a write error ends the program with status
 * 2, as dml_close_stdout does. */
void rec_print_final(json_t *r);

#ifdef __cplusplus
}
#endif

#endif
