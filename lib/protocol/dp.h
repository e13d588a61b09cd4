/*
 * dp: differential privacy for train updates: L2 clipping, Gaussian
 * noise from a keyed ChaCha20 stream, and the accountant (Renyi DP of the
 * sampled Gaussian mechanism, converted to (epsilon, delta)).
 *
 * The accountant follows Mironov, Talwar and Zhang, "Renyi Differential
 * Privacy of the Sampled Gaussian Mechanism" (2019): log A_alpha by the
 * exact binomial sum at integer orders and by the two-sided series at
 * fractional ones; RDP composes by adding over steps; the conversion to
 * (epsilon, delta) is the one of Opacus's RDPAccountant (Balle et al.
 * 2020, Theorem 21): eps = rdp - (log delta + log a) / (a - 1)
 * + log((a - 1) / a), minimised over the orders. The default orders are
 * Opacus's: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
 *
 * The record operations (the last section) apply these to the records of
 * a job with "privacy" parameters: check that a dml.result or
 * dml.aggregate is the signer's own, for the job and not yet clipped or
 * noised; clip (and in distributed mode noise) a result's values.delta,
 * noise an aggregate's sum, decide whether a round may be accounted
 * within the budget and build its dml.privacy record. They take the
 * parsed job and record, report by dml_error ("file:line: what" when a
 * record is at fault) and neither print nor exit: dml-privacy is their
 * option parser and record loop.
 *
 * Not for: secure aggregation, the privacy ledger file (report.h keeps
 * it), or cryptographic randomness other than the noise key.
 */
#ifndef DML_DP_H
#define DML_DP_H

#include <stddef.h>

#include "job.h"
#include "record.h"
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clipping -------------------------------------------------------- */

/* Euclidean norm of v, computed without overflow. */
double dp_l2norm(const double *v, size_t n);
/* Scale v so its L2 norm is at most c (c > 0); returns the norm before. */
double dp_clip(double *v, size_t n, double c);

/* ---- Gaussian noise -------------------------------------------------- */

typedef struct dp_rng dp_rng;

/* A normal generator over the ChaCha20 keystream of libsodium. With a
 * seed the key is BLAKE2b-256 of the seed bytes (same seed, same noise);
 * with seed NULL the key comes from randombytes_buf. The key lives in
 * sodium_malloc memory and is wiped by dp_rng_free. NULL + dml_error if
 * secure memory cannot be had. */
dp_rng *dp_rng_new(const void *seed, size_t len);
void dp_rng_free(dp_rng *r);
/* Uniform in (0, 1), 53 random bits, never 0 or 1. */
double dp_uniform(dp_rng *r);
/* Standard normal by the Box-Muller transform (both values used). */
double dp_gauss(dp_rng *r);
/* v[i] += sd * N(0, 1) for each i. */
void dp_add_noise(dp_rng *r, double *v, size_t n, double sd);

/* ---- accountant ------------------------------------------------------- */

/* Opacus RDPAccountant.DEFAULT_ALPHAS. */
#define DP_NORDERS 151
extern const double dp_default_orders[DP_NORDERS];

/* RDP at order alpha (> 1) of one step of the sampled Gaussian mechanism
 * with sampling rate q in [0, 1] and noise multiplier z > 0: 0 at q = 0,
 * alpha / (2 z^2) at q = 1. NaN on bad arguments. */
double dp_rdp_sgm(double q, double z, double alpha);
/* rdp[i] = steps * dp_rdp_sgm(q, z, orders[i]). */
void dp_rdp(double q, double z, long long steps, const double *orders,
    size_t n, double *rdp);
/* The smallest epsilon over the orders at this delta (0 < delta < 1) and
 * the order giving it; infinite epsilon if no order gives a finite one. */
double dp_epsilon(const double *orders, const double *rdp, size_t n,
    double delta, double *order);
/* epsilon after `steps` steps at the default orders. */
double dp_spent(double q, double z, long long steps, double delta,
    double *order);

/* ---- records ----------------------------------------------------------- */

/* The noise generator of one record: seed < 0 takes the key from
 * libsodium's randomness; otherwise the key is derived from the seed, the
 * purpose ("clip", "noise"), the signer pk, the job id and the round, so a
 * seeded run is byte-identical. NULL + dml_error if secure memory fails. */
dp_rng *dp_record_rng(long seed, const char *purpose,
    const unsigned char pk[32], const char *job, long long round);
/* r must be a `type` record ("dml.result", "dml.aggregate"), with a valid
 * signature (by signer when not NULL), of job j, of a train task, of a
 * round the job has (*round gets it); fresh: without "privacy" yet. 0, or
 * -1 with rec_err. */
int dp_check_record(const rec_in *in, const json_t *r, const char *type,
    const dml_job *j, const unsigned char *signer, int fresh,
    long long *round);
/* Clip the device's dml.result r in place: check it (signed by k, fresh),
 * clip values.delta to the job's norm as it will travel (f32 rounding
 * included), in distributed mode add the device's noise share of sd
 * noise * clip / sqrt(min_devices), set "privacy" and re-sign with k.
 * 0; -1 with rec_err on a record at fault; -2 when memory or signing
 * fails. */
int dp_clip_result(const rec_in *in, json_t *r, const dml_job *j,
    const dml_key *k, long seed);
/* Central mode: noise the node's own dml.aggregate agg in place (signed
 * by k, fresh): sum.delta += N(0, (noise * clip)^2), as f64; set
 * "privacy" and re-sign. Returns as dp_clip_result. */
int dp_noise_aggregate(const rec_in *in, json_t *agg, const dml_job *j,
    const dml_key *k, long seed);
/* The one dml.aggregate of in (dml.rerun records before it are written
 * to o when o is not NULL, else skipped). NULL + dml_error on a bad
 * record, on a second aggregate, or on none ("empty input"). */
json_t *dp_read_aggregate(rec_in *in, rec_out *o);
/* Whether agg may be accounted: a signed dml.aggregate of job j (not
 * necessarily fresh) with "devices"; central mode: it carries the job's
 * central noise; distributed: at least min_devices devices contributed
 * noise shares. *round and *devices get its fields. 0, or -1 + rec_err. */
int dp_account_check(const rec_in *in, const json_t *agg, const dml_job *j,
    long long *round, long long *devices);
/* The budget decision for releasing round `round` (0-based; round + 1
 * steps): *eps the epsilon spent after it, *order the order giving it,
 * *next the epsilon one more round would bring. 0 if *eps is within the
 * job's epsilon, -1 (no error set) if past it. */
int dp_budget(const job_dp *d, long long round, double *eps, double *next,
    double *order);
/* The dml.privacy record (unsigned) of round `round` of agg's devices,
 * given the ledger's last record (NULL if none; spent names the ledger in
 * errors). NULL + dml_error when last is already of this round or a later
 * one, or when the round would pass the budget ("name:line:" of in).
 * Its next_epsilon past the budget means this round is the last. */
json_t *dp_account(const rec_in *in, const dml_job *j, long long round,
    long long devices, const json_t *last, const char *spent);

#ifdef __cplusplus
}
#endif

#endif
