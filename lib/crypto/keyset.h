/*
 * keyset: a set of 32-byte public keys (devices, nodes) with fast lookup,
 * and the files that list them.
 *
 * The keys sit in one dense array and an open-addressing table indexes
 * them; SipHash under a random key spreads keys an adversary chose, and
 * the table's order never reaches an output (keyset_sorted sorts).
 * Not for: secret keys (see sign).
 */
#ifndef DML_KEYSET_H
#define DML_KEYSET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct keyset keyset;

keyset *keyset_new(void);
void keyset_free(keyset *s);
/* 1 if k was added, 0 if it was already there. */
int keyset_add(keyset *s, const unsigned char k[32]);
int keyset_has(const keyset *s, const unsigned char k[32]);
size_t keyset_count(const keyset *s);
/* The keys in ascending byte order (which is their hex order): count*32
 * bytes owned by the set, valid until the next add. */
const unsigned char *keyset_sorted(keyset *s);
/* Add the keys listed in a file, one a line: 64 hex digits, a dml.pubkey
 * record ("key") or a record naming a "device" (dml.assignment). Blank
 * lines and lines starting with '#' are skipped. -1 "file:line: what". */
int keyset_load(keyset *s, const char *path);

#ifdef __cplusplus
}
#endif

#endif
