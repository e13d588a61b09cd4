/*
 * secagg: secure aggregation with dropouts (Bonawitz et al., "Practical
 * Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017),
 * with the SecAgg+ option of masking with k neighbours only (Bell et al.,
 * CCS 2020). The federated node learns the sum of the devices' updates
 * and nothing else; so does everyone else.
 *
 * The protocol's four rounds ("steps" here: --round already names the
 * training round) are records, so each is a pipeline:
 *
 *   device  advertise  own dml.result        -> dml.secagg.keys
 *   node    collect-keys  keys records        -> dml.secagg.roster
 *   device  share      roster                -> dml.secagg.shares
 *   node    route-shares  shares records      -> dml.secagg.inbox (each)
 *   device  mask       inbox + own dml.result -> dml.secagg.masked
 *   node    collect-masked  masked records    -> dml.secagg.unmask-request
 *   device  unmask     unmask-request         -> dml.secagg.unmask
 *   node    unmask     unmask records         -> dml.aggregate
 *
 * Between steps a device keeps its secrets in a state file (mode 0600,
 * written whole, deleted once it has answered the unmask request); the
 * node keeps the roster, who shared, who masked and the running sum of
 * the masked inputs in its own state file. dml-records(5) has every
 * field; dml-encrypt(1) and dml-aggregate(1) have the threshold, the
 * quantization, the modulus, clipping and dropout rules.
 *
 * Not for: clipping to an L2 norm or noise (dp), plain sums (aggregate).
 */
#ifndef DML_SECAGG_H
#define DML_SECAGG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "job.h"
#include "record.h"
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* u32 elements per keystream chunk in the mask loop (32 KiB: two such
 * buffers and the accumulator's chunk stay in L1/L2). */
#define SECAGG_CHUNK 8192
/* The modulus is 2^32: masked inputs are vectors of uint32. */
#define SECAGG_MODBITS 32

/* ---- primitives (also used by the benchmark) ------------------------ */

/* PRG key of a self mask: BLAKE2b-256("dml-secagg-self-v1" session b). */
void secagg_self_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char b[32]);
/* PRG key of the pair mask of sk's owner and pk's owner:
 * BLAKE2b-256("dml-secagg-pair-v1" session X25519(sk, pk)); the same from
 * either side. -1 with dml_error if pk is a low-order point. */
int secagg_pair_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char sk[32], const unsigned char pk[32]);
/* acc[i] += signs[j] * PRG_j[i] mod 2^32 for every term j, PRG_j the
 * ChaCha20 keystream (nonce 0, counter from 0) under keys[32 j] read as
 * little-endian uint32; signs are +1 or -1. */
void secagg_masks(uint32_t *acc, size_t len, const unsigned char *keys,
    const signed char *signs, size_t nterms);

/* The largest fractional bit count f <= 24 such that n devices' values
 * clamped to [-clip, clip] sum inside int32: n floor(clip 2^f) < 2^31.
 * -1 with dml_error if even f = 0 does not fit. */
int secagg_auto_frac(long long n, double clip);
/* q[i] = round(clamp(x[i], -clip, clip) 2^frac) mod 2^32 (to nearest,
 * ties away from zero). *clipped counts the values clamped. -1 with
 * dml_error on a value that is not finite. */
int secagg_quantize(const double *x, size_t n, double clip, int frac,
    uint32_t *q, size_t *clipped);

/* The neighbour graph of a round: full, or a Harary graph of even degree
 * k on the device indices 1..n in an order drawn from the session. */
typedef struct secagg_graph {
	uint32_t n, k;		/* k = n - 1 for the full graph */
	int full;
	uint32_t *perm;		/* position -> index (Harary only) */
	uint32_t *pos;		/* index -> position */
} secagg_graph;

/* k 0 or >= n - 1: full graph; else k is rounded up to even. */
void secagg_graph_init(secagg_graph *g, const unsigned char session[32],
    uint32_t n, uint32_t k);
void secagg_graph_free(secagg_graph *g);
int secagg_adjacent(const secagg_graph *g, uint32_t a, uint32_t b);
/* The neighbours of index i, ascending, into out (room for k); count. */
uint32_t secagg_neighbours(const secagg_graph *g, uint32_t i,
    uint32_t *out);
/* The default threshold for m share holders (k + 1, or n): 2m/3 + 1,
 * and at least a majority. */
int secagg_default_threshold(uint32_t m);

/* ---- the device's side ---------------------------------------------- */

enum secagg_dstep { SA_ADVERTISE, SA_SHARE, SA_MASK, SA_UNMASK };
/* "advertise" ... "unmask"; -1 if unknown. */
int secagg_dstep_parse(const char *s);

typedef struct secagg_dev secagg_dev;

/* A device's step. For advertise the state file must not exist yet;
 * later steps load it (and check it is the device's). node: the node
 * whose signature the roster, inbox and request must carry (NULL only
 * for advertise). seedtext: derive the device's secrets from it
 * (--seed; tests and demos), else libsodium's randomness. NULL +
 * dml_error. The key is borrowed. */
secagg_dev *secagg_dev_new(enum secagg_dstep step, const char *state,
    const dml_key *k, const unsigned char *node, const char *seedtext);
/* One input record. -1 with dml_error "file:line: what". */
int secagg_dev_feed(secagg_dev *d, json_t *r, const rec_in *in);
/* The step's signed output record, once every input is read. */
json_t *secagg_dev_finish(secagg_dev *d);
/* Write the new state (or delete it after unmask); call after the
 * output is written, before it is committed. */
int secagg_dev_save(secagg_dev *d);
void secagg_dev_free(secagg_dev *d);
/* Values clamped at the quantization of the mask step. */
size_t secagg_dev_clipped(const secagg_dev *d);

/* ---- the federated node's side -------------------------------------- */

enum secagg_nstep { SA_COLLECT_KEYS, SA_ROUTE_SHARES, SA_COLLECT_MASKED,
	SA_NODE_UNMASK };
int secagg_nstep_parse(const char *s);

typedef struct secagg_params {
	long long threshold;	/* 0: secagg_default_threshold */
	long long neighbours;	/* 0: full graph */
	double clip;		/* per-value clamp before quantizing */
	int frac_bits;		/* -1: secagg_auto_frac */
	long long round;	/* -1: the round of the first input */
	const keyset *devices;	/* keys only from these, or NULL */
	int keep_going;		/* skip bad inputs (they count as dropped) */
} secagg_params;

typedef struct secagg_node secagg_node;

/* For collect-keys the state file must not exist; later steps load it.
 * job and key are borrowed. */
secagg_node *secagg_node_new(enum secagg_nstep step, const char *state,
    const dml_job *job, const dml_key *k, const secagg_params *p);
int secagg_node_feed(secagg_node *s, json_t *r, const rec_in *in);
/* Write the step's signed records to o. -1 with dml_error when the round
 * cannot go on (threshold not met, shares that do not reconstruct):
 * nothing is written then. */
int secagg_node_finish(secagg_node *s, rec_out *o);
int secagg_node_save(secagg_node *s);
void secagg_node_free(secagg_node *s);

/* ---- a step over input files (dml-encrypt, dml-aggregate) ----------- */

/* Run a device's step (d) or the node's (s; the other NULL): feed it the
 * records of files[0..nfiles) (stdin when nfiles is 0), write its output
 * to out (NULL or "-": stdout) and save the state; the output appears
 * only once the state is saved. skip: when given, each bad record is
 * passed to it (its message) and left out; else the first one ends the
 * run. 0; AGG_EREJECT with dml_error on bad input or a round that cannot
 * go on (nothing written); AGG_ESYSTEM with dml_error when the output or
 * the state cannot be written. */
int secagg_run_files(secagg_dev *d, secagg_node *s, const char *out,
    void (*skip)(const char *msg), int nfiles, char **files);

#ifdef __cplusplus
}
#endif

#endif
