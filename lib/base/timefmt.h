/*
 * timefmt: the one time format of records, RFC 3339 in UTC written
 * "YYYY-MM-DDTHH:MM:SSZ" exactly (no fraction, no offset), and seconds
 * since the Unix epoch.
 *
 * Every program and module parses times here, so a time one program signs
 * (a job's deadline) is a time every other accepts (the ledger's refund).
 */
#ifndef DML_TIMEFMT_H
#define DML_TIMEFMT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Parse s; -1 with dml_error for any other form, or a date that does not
 * exist (2026-02-30). */
int timefmt_parse(const char *s, long long *t);
/* Format t into buf (20 characters and a NUL). */
void timefmt_format(long long t, char buf[32]);

#ifdef __cplusplus
}
#endif

#endif
