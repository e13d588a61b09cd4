/*
 * cid: content identifiers as IPFS computes them.
 *
 * CIDv1 with a sha2-256 multihash, printed in base32 (lower case, "b"
 * prefix). cid_file_* builds the UnixFS DAG that `ipfs add --cid-version=1
 * --raw-leaves` builds: 262144-byte chunks as raw leaves (codec 0x55),
 * a balanced tree of dag-pb nodes (codec 0x70) with at most 174 links, and
 * a file of one chunk is its raw leaf. It streams: memory is one chunk plus
 * one link list per tree level. Every block can be handed to a callback (a
 * blockstore) as it is made.
 *
 * Not for: storing or fetching blocks (see ipfs).
 */
#ifndef DML_CID_H
#define DML_CID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CID_CHUNK 262144
#define CID_MAXLINKS 174
#define CID_RAW 0x55
#define CID_DAGPB 0x70
#define CID_MAXBIN 40		/* binary CIDv1 sha2-256: 36 bytes */
#define CID_MAXSTR 64		/* "b" + base32 of 36 bytes = 59 chars */

typedef struct cid {
	unsigned char bin[CID_MAXBIN];
	size_t len;
} cid;

/* Binary CIDv1 of a block with the given codec. */
void cid_of_block(cid *c, unsigned codec, const void *p, size_t n);
/* Text form, "b" + base32; out holds CID_MAXSTR bytes. */
void cid_str(const cid *c, char *out);
/* Parse the text form (CIDv1 base32 sha2-256 only). */
int cid_parse(cid *c, const char *s);
unsigned cid_codec(const cid *c);
/* The sha2-256 digest inside a CID (32 bytes). */
const unsigned char *cid_digest(const cid *c);

/* Called for every block made; return -1 to stop. */
typedef int (*cid_block_fn)(void *ctx, const cid *c, const void *p, size_t n);

typedef struct cid_file cid_file;
cid_file *cid_file_new(cid_block_fn fn, void *ctx);
int cid_file_write(cid_file *f, const void *p, size_t n);
/* Read fd to its end into a new builder (nothing written yet), then only
 * cid_file_finish. With cid_file_set_threads(f, n > 1) the leaves are
 * hashed on n threads and fn is called from any of them, leaves in any
 * order (fn must then be thread-safe); the DAG and its CID do not depend
 * on the timing. Memory: one chunk per thread. */
int cid_file_read_fd(cid_file *f, int fd);
/* Threads for cid_file_read_fd (1, the default, to 8). */
void cid_file_set_threads(cid_file *f, int n);
/* Finish: the root CID and the file size. Frees f. */
int cid_file_finish(cid_file *f, cid *root, uint64_t *size);
void cid_file_free(cid_file *f);

/* CID text of bytes as `ipfs add --cid-version=1 --raw-leaves` gives. */
int cid_of_bytes(const void *p, size_t n, char out[CID_MAXSTR]);
/* The same for a file's contents, read in chunks ("-": stdin). */
int cid_of_file(const char *path, char out[CID_MAXSTR]);

#ifdef __cplusplus
}
#endif

#endif
