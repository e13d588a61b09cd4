/*
 * kubo: a client of an IPFS node's RPC API (Kubo's /api/v0, which js-ipfs
 * serves too) over libcurl, for the ipfs module.
 *
 * Every call is a POST (js-ipfs refuses GET). Requests are bounded in time
 * (a connect timeout, a low-speed limit, the node's own `timeout`
 * parameter where a lookup could wait for the network) and retried, with
 * backoff, a fixed number of times on failures that may pass: a refused
 * connection while the node starts, a timeout, a truncated answer, a 502,
 * 503 or 504. Answers are read whole and checked: a body shorter than its
 * Content-Length, or JSON that does not parse, is an error.
 *
 * Not for: checking what the node sends (ipfs verifies every block it
 * fetches, and recomputes the CID of everything it adds).
 */
#ifndef DML_KUBO_H
#define DML_KUBO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KUBO_ATTEMPTS 3
#define KUBO_DEFAULT_TIMEOUT 60

typedef struct kubo kubo;

/* url: "http://host:port" (a trailing "/" is ignored), "host:port", or a
 * multiaddr "/ip4/A/tcp/P" or "/dns/NAME/tcp/P". Contacts nothing yet.
 * NULL + dml_error on a URL it cannot use. */
kubo *kubo_open(const char *url);
void kubo_close(kubo *k);
/* The normalised URL, "http://host:port", for messages. */
const char *kubo_url(const kubo *k);
/* How long the node may take to answer one request, in seconds. */
void kubo_set_timeout(kubo *k, int seconds);

/* A source of bytes to upload: read up to n bytes into buf and return the
 * number read, 0 at the end, -1 on error (with dml_error). rewind, if not
 * NULL, starts the source over for a retry (0) or says it cannot (-1). */
typedef ssize_t (*kubo_read_fn)(void *ctx, void *buf, size_t n);
typedef int (*kubo_rewind_fn)(void *ctx);

/* POST /api/v0/add?cid-version=1&raw-leaves=true&cid-base=base32&pin=true
 * streaming the source as one multipart file part (size: its length, or -1
 * if unknown: chunked upload). *out: the CID the node answered.
 * -1 + dml_error on failure. */
int kubo_add(kubo *k, const char *name, int64_t size, kubo_read_fn rd,
    kubo_rewind_fn rewind, void *ctx, cid *out);

/* POST /api/v0/block/get?arg=CID&timeout=Ns: the block's bytes, not
 * verified (caller frees *p). At most max bytes are accepted. */
int kubo_block_get(kubo *k, const cid *c, size_t max, unsigned char **p,
    size_t *n);

/* POST /api/v0/block/put?cid-codec=raw|dag-pb&mhtype=sha2-256&pin=false:
 * store one block; the node's CID must equal c. */
int kubo_block_put(kubo *k, const cid *c, const void *p, size_t n);

/* POST /api/v0/version: the node's version string (caller frees). */
int kubo_version(kubo *k, char **version);

#ifdef __cplusplus
}
#endif

#endif
