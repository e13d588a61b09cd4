/*
 * secagg_private: what the files of lib/protocol/secagg/ share and no one
 * else may use: the wire format's helpers, the roster, the device's and
 * the node's state. The public interface is secagg.h; this header is not
 * installed, and every name here may change with the code.
 *
 *   primitives.c  hashes, mask keys, the keystream masks, quantization,
 *                 the neighbour graph (secagg.h's primitives)
 *   wire.c        fields of the records (hex keys, index lists, base64),
 *                 the round's common fields, state files
 *   roster.c      the roster: parsing and checking it, share holders
 *   device.c      the device's four steps
 *   devstate.c    the device between steps: its state file, its memory
 *   node.c        the node's first three steps and its state
 *   unmask.c      the node's last step: reconstruct and unmask the sum
 *   runfiles.c    a step fed from files (dml-encrypt, dml-aggregate)
 */
#ifndef DML_SECAGG_PRIVATE_H
#define DML_SECAGG_PRIVATE_H

#include <sodium.h>

#include "keyset.h"
#include "secagg.h"

#define SHARE_PT 72		/* from(4) to(4) b-share(32) s-share(32) */
#define SHARE_CT (SHARE_PT + crypto_box_MACBYTES)

/* The step names, by enum secagg_dstep and enum secagg_nstep. */
extern const char *const sa_dstep_name[4];
extern const char *const sa_nstep_name[4];

/* ---- primitives.c ---------------------------------------------------- */

/* BLAKE2b-256 of domain (with its NUL), a and b (b may be NULL). */
void sa_hash3(unsigned char out[32], const char *domain,
    const unsigned char *a, size_t an, const unsigned char *b, size_t bn);
/* The commitment to a self-mask seed the roster carries. */
void sa_commit_b(unsigned char bc[32], const unsigned char b[32]);
/* qsort/bsearch order of uint32_t. */
int sa_cmp_u32(const void *a, const void *b);

/* ---- wire.c: fields of the records ----------------------------------- */

int sa_get_hex32(const rec_in *in, const json_t *r, const char *key,
    unsigned char out[32]);
void sa_set_hex32(json_t *r, const char *key, const unsigned char b[32]);
/* Overwrite a secret string held by the tree before it is freed. */
void sa_wipe_field(json_t *r, const char *key);
/* A strictly ascending array of indices in 1..n. *out malloc'd. */
int sa_get_idx(const rec_in *in, const json_t *r, const char *key,
    uint32_t n, uint32_t **out, uint32_t *count);
json_t *sa_idx_json(const uint32_t *x, uint32_t n);
/* Is v in the ascending list x[0..n)? */
int sa_in_list(const uint32_t *x, uint32_t n, uint32_t v);
/* The record's job, round and (session not NULL) session must be the
 * round's. */
int sa_check_round(const rec_in *in, const json_t *r, const char *job,
    long long round, const unsigned char *session);
/* A new record of a round's step: its job, round and session. */
json_t *sa_round_rec(const char *type, const char *job, long long round,
    const unsigned char session[32]);
void sa_put32(unsigned char *p, uint32_t v);
uint32_t sa_get32(const unsigned char *p);
json_t *sa_b64_json(const void *p, size_t n);
/* A base64 string field that holds n bytes: its text. */
int sa_b64_field(const rec_in *in, const json_t *r, const char *key,
    size_t n, const char **s, size_t *sl);
/* Decode a base64 string field of exactly n bytes into dst. */
int sa_get_b64(const rec_in *in, const json_t *r, const char *key,
    void *dst, size_t n);
/* r signed with k, or NULL (r freed) with dml_error. */
json_t *sa_signed_rec(json_t *r, const dml_key *k);

/* State files: written whole, mode 0600, the secrets wiped from memory. */
int sa_state_write(const char *path, json_t *st);
json_t *sa_state_read(const char *path, const char *type);
/* -1 with dml_error when the file exists (a round in progress). */
int sa_state_absent(const char *path);

/* ---- roster.c -------------------------------------------------------- */

struct sa_devkeys {
	unsigned char pk[32], c[32], s[32], bc[32];
};

struct sa_roster {
	char *job;
	long long round;
	unsigned char session[32];
	uint32_t n, t, k;
	double clip;
	int frac;
	struct sa_devkeys *d;	/* [n], index i at d[i - 1], by pk */
	secagg_graph g;
};

void sa_roster_free(struct sa_roster *ro);
/* BLAKE2b-256 of the roster's canonical form without session, from and
 * sig. */
int sa_roster_session(const json_t *r, unsigned char out[32]);
/* The dml.secagg.keys record of a device's keys (unsigned). */
json_t *sa_keys_record(const char *job, long long round,
    const struct sa_devkeys *d);
/* The index (1..n) of the device with key pk, or 0. */
uint32_t sa_roster_index(const struct sa_roster *ro,
    const unsigned char pk[32]);
int sa_check_threshold(uint32_t t, uint32_t m);
/* Parse a roster. me: a device's key, to check the signatures of the
 * keys it will use; NULL for the node, which reads the roster it wrote. */
int sa_roster_parse(struct sa_roster *ro, const rec_in *in, const json_t *r,
    const unsigned char *me);
/* The holders of i's shares: its neighbours and itself, ascending. */
uint32_t sa_holders(const struct sa_roster *ro, uint32_t i, uint32_t *out);
/* The nonce of the share box from one index to another. */
void sa_share_nonce(unsigned char nonce[crypto_box_NONCEBYTES],
    const unsigned char session[32], uint32_t from, uint32_t to);

/* ---- the device (device.c, devstate.c) ------------------------------- */

enum { SEC_CSK, SEC_SSK, SEC_B, SEC_SEED, SEC_OWNB, SEC_OWNS, SEC_N };

struct secagg_dev {
	enum secagg_dstep step;
	const char *path;
	const dml_key *key;
	unsigned char node[32];
	int have_node, have_seed;
	char *seedtext;
	unsigned char *sec;		/* SEC_N x 32, sodium_malloc */
	struct sa_devkeys me;
	char *job;
	long long round;
	/* from the share step on */
	int shared;
	unsigned char session[32];
	uint32_t index, n, t, k, m;
	double clip;
	int frac;
	uint32_t nn, *nbr;		/* neighbours, ascending */
	unsigned char *nc, *ns;		/* their c and s keys, nn x 32 */
	/* from the mask step on */
	uint32_t nu2, *u2;		/* who shared */
	unsigned char *recv;		/* nn x 64 (b, s shares), sodium */
	unsigned char *have_recv;	/* nn flags */
	/* inputs of this step */
	int got_main, got_result;
	uint32_t *q;			/* quantized result, len */
	size_t len, clipped;
	json_t *layout;
	char *task, *model;
	json_t *out;
	int answered;
};

/* The slot of neighbour v in d->nbr, or -1. */
int sa_nbr_slot(const secagg_dev *d, uint32_t v);

/* ---- the node (node.c, unmask.c) ------------------------------------- */

enum { F_SHARED = 1, F_MASKED = 2, F_SEEN = 4, F_DROPPED = 8 };

struct sa_shareset {		/* shares of one device's secret */
	uint32_t count, *x;
	unsigned char *y;	/* count x 32 */
};

struct secagg_node {
	enum secagg_nstep step;
	const char *path;
	const dml_job *job;
	const dml_key *k;
	secagg_params p;
	json_t *st;			/* the state, from route-shares on */
	struct sa_roster ro;
	int have_ro;
	unsigned char *fl;		/* [n + 1] F_ flags by index */
	long long round;
	json_t *entries;		/* collect-keys */
	keyset *seen;
	json_t **inbox;			/* route-shares: [n + 1] */
	json_t *layout;			/* collect-masked on */
	char *task, *model;
	uint32_t *ysum;
	size_t len;
	struct sa_shareset *bs, *ss;	/* unmask: [n + 1] */
	uint32_t *nb;			/* scratch: k neighbours */
};

/* A device's signed record of this round: its index, or 0 + dml_error. */
uint32_t sa_device_of(secagg_node *s, const json_t *r, const rec_in *in,
    const char *type);
/* Sign r with the node's key and write it to o; r is freed. */
int sa_emit(secagg_node *s, rec_out *o, json_t *r);
int sa_unmask_feed(secagg_node *s, json_t *r, const rec_in *in);
int sa_unmask_finish(secagg_node *s, rec_out *o);

#endif
