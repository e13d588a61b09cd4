/*
 * amount: token amounts as decimal strings (records carry them as strings,
 * never as JSON numbers; dml-records(5)).
 *
 * A valid amount is 1 to 78 decimal digits without a leading zero (0 is
 * "0"): any unsigned 256-bit integer fits. Arithmetic on amounts is GMP's
 * (settle, ledger); this module only checks and orders them.
 */
#ifndef DML_AMOUNT_H
#define DML_AMOUNT_H

#ifdef __cplusplus
extern "C" {
#endif

/* A valid decimal token amount? 1 yes, 0 no. */
int amount_ok(const char *s);
/* Compare two valid amounts numerically: -1, 0 or 1. */
int amount_cmp(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
