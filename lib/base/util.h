/*
 * util: diagnostics, allocation that cannot fail, and whole-file I/O.
 *
 * Library code reports a failure with dml_error() and returns -1 or NULL;
 * only a program's main decides to print and exit (dml_die, dml_fail).
 * Not for: anything that knows about records or cryptography.
 */
#ifndef DML_UTIL_H
#define DML_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DML_VERSION "0.2.0"

/* Exit statuses shared by every program (see dml(7)): 0 success, 1 the
 * data was rejected, 2 a usage or system error (a missing input file, a
 * failed write, no memory). */
enum { DML_EXIT_OK = 0, DML_EXIT_REJECT = 1, DML_EXIT_USAGE = 2 };
/* What library functions that tell the two failures apart return: -1 the
 * data was rejected, -2 a system error. The modules' own codes
 * (LEDGER_ESYS, CHAIN_REJECT, ...) are these values. */
enum { DML_REJECT = -1, DML_ESYS = -2 };

extern const char *dml_prog;

void dml_setprog(const char *argv0);
/* The subcommand being run (NULL: none): every diagnostic then reads
 * "prog: sub: what". */
void dml_setsub(const char *sub);
const char *dml_getsub(void);

/* Set the thread's last error message; returns -1 so callers can write
 * `return dml_error(...)`. The message names the place ("file:line: what"). */
int dml_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A system error (a file that cannot be opened, read or written): the
 * message gets ": strerror(errno)" and the error's class becomes
 * DML_EXIT_USAGE, so a program that fails on it exits 2 (dml_fail). */
int dml_error_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit status the last error calls for: DML_EXIT_USAGE after
 * dml_error_sys, else DML_EXIT_REJECT. */
int dml_errclass(void);
/* The exit status for a library return code: DML_ESYS (or a system
 * error as the last error) gives 2, any other failure 1. */
int dml_exit_of(int rc);
/* Like dml_error but prefixes the existing message with a context (the
 * error's class is kept). */
int dml_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *dml_errmsg(void);

/* "prog: msg\n" to stderr. */
void dml_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: msg\n" to stderr, then exit(status). */
void dml_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Print the last library error as "prog: <errmsg>" and exit: with
 * `status`, or 2 when the last error was a system error. */
void dml_fail(int status) __attribute__((noreturn));
/* Usage error: "prog: msg\nTry 'prog --help'.\n", exit 2. */
void dml_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read a whole file ("-" or NULL: stdin). Caller frees *buf (NUL-terminated). */
int dml_read_file(const char *path, char **buf, size_t *len);
/* Write a file whole or not at all: temporary file in the same directory,
 * fsync, rename, fsync of the directory. `mode` applies to the new file. */
int dml_write_file(const char *path, const void *buf, size_t len, mode_t mode);
/* Create a new file exclusively (O_EXCL) with `mode`, write all, fsync. */
int dml_create_file(const char *path, const void *buf, size_t len, mode_t mode);

/* Make the directories above a file's path (mode 0700), as mkdir -p. */
int dml_make_parent(const char *path);

/* Write all of buf to fd, retrying short writes. */
int dml_write_all(int fd, const void *buf, size_t len);
/* Read up to n bytes, retrying short reads, stopping only at end of file:
 * the count read, or -1 with errno set. */
ssize_t dml_read_full(int fd, void *buf, size_t n);

/* Parse a decimal integer option; -1 with dml_error on junk or range. */
int dml_parse_long(const char *s, long lo, long hi, long *out);
int dml_parse_double(const char *s, double *out);

/* Progress of long work on stderr, only when stderr is a terminal and at
 * most about ten times a second: "prog: what done/total". A call with
 * done == total ends the line. */
void dml_progress(const char *what, long long done, long long total);

/* Print --version text and exit 0. */
void dml_version(void) __attribute__((noreturn));

/* Check stdout at exit: flush and close, die on failure. */
void dml_close_stdout(void);

#ifdef __cplusplus
}
#endif

#endif
