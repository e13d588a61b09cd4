/*
 * ipfs: store files and fetch them back by CID, in a local blockstore
 * (the embedded default) or on an IPFS node through its RPC API.
 *
 * Adding gives the CID `ipfs add --cid-version=1 --raw-leaves` gives
 * (see cid), streaming: memory is a chunk per thread and a link list per
 * tree level, whatever the size. On a node, the file is uploaded as it is
 * read while its CID is computed here, and the node's answer must equal it.
 *
 * Fetching walks the DAG depth first and checks every block against its
 * CID before a byte of it reaches the sink: raw leaves and dag-pb UnixFS
 * file nodes, parsed strictly, their blocksizes and filesize consistent
 * with what lies below. A missing, corrupted or inconsistent block is an
 * error; the sink may have received the verified bytes before it, so a
 * caller that must not show partial output spools (rec_out does).
 *
 * The blockstore is a directory:
 *   DIR/version            "dml-blockstore 1"
 *   DIR/blocks/XY/CID      one file per block, named by its CIDv1 in
 *                          base32; XY are the two characters before the
 *                          last one of the name (flatfs's next-to-last/2)
 *   DIR/tmp/               blocks being written, renamed into place whole
 * made on the first write, mode 0700. Blocks are immutable: a block that
 * is there (with the right size) is not written again. An add ends with
 * one syncfs(2) of the store unless IPFS_NO_SYNC.
 *
 * Errors: -1 with dml_error when the data or the node failed (a missing or
 * corrupted block, an unreachable node, a wrong answer); -2 with dml_error
 * for a local system error (the store cannot be written, the sink failed).
 *
 * Not for: what the bytes mean (records, reports); pinning policy.
 */
#ifndef DML_IPFS_H
#define DML_IPFS_H

#include <stddef.h>
#include <stdint.h>

#include "cid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFS_ENV_REPO "DML_IPFS_REPO"
#define IPFS_ENV_API "DML_IPFS_API"
/* Largest block fetched: ipfs's own limit is 1 MiB (2 MiB on bitswap). */
#define IPFS_MAXBLOCK (2 << 20)

enum {
	IPFS_ONLY_HASH = 1,	/* compute the CID, store nothing */
	IPFS_NO_SYNC = 2	/* do not syncfs the blockstore after an add */
};

typedef struct ipfs_store ipfs_store;

/* Open a store: the RPC API at api if given, else the blockstore repo if
 * given, else $DML_IPFS_API, else $DML_IPFS_REPO, else $HOME/.dml/ipfs.
 * Creates and contacts nothing yet. NULL + dml_error on a bad API URL. */
ipfs_store *ipfs_open(const char *repo, const char *api);
void ipfs_close(ipfs_store *st);
/* The blockstore directory or the API URL, for messages. */
const char *ipfs_where(const ipfs_store *st);
int ipfs_is_remote(const ipfs_store *st);
/* Seconds the node may take to answer one request (default 60). */
void ipfs_set_timeout(ipfs_store *st, int seconds);
/* Threads hashing and storing the leaves of an add (default: 2 when the
 * machine has two CPUs or more). */
void ipfs_set_threads(ipfs_store *st, int n);

/* Add the bytes read from fd until its end. name: for messages and the
 * node's file name. *size: the number of bytes. */
int ipfs_add_fd(ipfs_store *st, int fd, const char *name, int flags,
    cid *out, uint64_t *size);
/* The same for a file by path ("-": standard input). */
int ipfs_add_file(ipfs_store *st, const char *path, int flags, cid *out,
    uint64_t *size);
/* The same for bytes in memory. */
int ipfs_add_bytes(ipfs_store *st, const void *p, size_t n, int flags,
    cid *out);

/* Receives the file's bytes in order; returns 0, or -1 with dml_error to
 * stop (ipfs_cat then returns -2). */
typedef int (*ipfs_sink)(void *ctx, const void *p, size_t n);
/* Write the file with root c to sink, every block verified first. */
int ipfs_cat(ipfs_store *st, const cid *c, ipfs_sink sink, void *ctx);

/* One block: store it (p must hash to c; checked), fetch it (checked
 * against c; caller frees *p), or ask whether the blockstore has it
 * (1 yes, 0 no; the blockstore only: -1 over the API). */
int ipfs_block_put(ipfs_store *st, const cid *c, const void *p, size_t n);
int ipfs_block_get(ipfs_store *st, const cid *c, unsigned char **p,
    size_t *n);
int ipfs_block_has(ipfs_store *st, const cid *c);
/* Path of a block's file in the blockstore (caller frees); NULL over the
 * API. For tests and repairs. */
char *ipfs_block_path(const ipfs_store *st, const cid *c);

#ifdef __cplusplus
}
#endif

#endif
