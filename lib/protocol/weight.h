/*
 * weight: crowd fine-tuning's trainer scoring. Each trainer's result
 * carries its answers to the job's control items ("control": {item id:
 * class}); the control answer key (dml.control records) holds the true
 * classes. A trainer is scored by its accuracy on the items it answered
 * and excluded when
 *
 *   - it gave no control answers, or answered an item not in the key
 *     (the answers cannot be trusted: excluded, score 0);
 *   - (adaptive test, below) the test stopped to exclude it;
 *   - its accuracy is below the job's minimum standard (min_accuracy);
 *   - a one-sided binomial test cannot tell it from guessing: with m
 *     answers, k right and chance p0 = 1/classes, the p-value
 *     P(X >= k | X ~ Bin(m, p0)) exceeds alpha (under the adaptive test,
 *     its level per look: a trainer it stopped to keep passes, since its
 *     standard is at least chance, so the two never disagree);
 *   - it is a low outlier among the trainers: robust z-score
 *     (acc - median) / sqrt((1.4826 MAD)^2 + q (1 - q) / m) below -z,
 *     q = (median m + 1) / (m + 2): the spread among trainers together
 *     with the binomial error of the trainer's own m answers, so a
 *     trainer the adaptive test asked few items is not called an outlier
 *     for the noise of a short test;
 *   - (when the job names a control set) its answers are not what the
 *     adaptive test asks, below: an item outside the first m of its
 *     sequence, or a count m the test would not have stopped at.
 *
 * A kept trainer's weight is its chance-corrected accuracy
 * (acc - p0) / (1 - p0), in (0, 1]; the aggregation factor is that weight
 * in thousandths (at least 1), so the weighted sum works on plaintext and
 * Paillier results alike.
 *
 * In FLTrust mode a trainer is scored instead by the cosine of its mean
 * update with a reference update the node computed on the common data:
 * its weight is the ReLU of that cosine (robust_trust, the one FLTrust
 * rule), and a trainer of no trust is excluded.
 *
 * A round's results come in through the aggregate module's intake
 * (agg_intake: signature, job, round, one result a device), so the
 * trainers dml-weight scores are the ones dml-aggregate would accept.
 *
 * Not for: signing or writing records (cmd/dml-weight.c), FLTrust's
 * arithmetic (robust), validating the updates (aggregate does, after).
 */
#ifndef DML_WEIGHT_H
#define DML_WEIGHT_H

#include <jansson.h>

#include "cid.h"
#include "job.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weight_key weight_key;

/* Read dml.control records ({"answers": {"ID": class, ...}}, for `job`
 * when it is not NULL), or, when path is a directory, the labels of that
 * data folder (the common set in simulation: item "c%06zu" is the
 * folder's item of that index, as dml-run --control names them).
 * NULL + dml_error "file:line: what". */
weight_key *weight_key_load(const char *path, const char *job);
/* The same, checking the key is the job's control set (when `set` is not
 * NULL): every dml.control record's "set", or a folder's items file CID,
 * must be `set`. */
weight_key *weight_key_load_set(const char *path, const char *job,
    const char *set);
/* The CID of a control set folder's items file: the first file its
 * profile.json lists (IDX: the images, labels withheld; CSV: data.csv,
 * whose label column travels with it). 0, or -1 + dml_error. */
int weight_control_set_cid(const char *dir, char out[CID_MAXSTR]);
void weight_key_free(weight_key *k);
/* The class of a control item, -1 when the key does not hold it. */
long weight_key_label(const weight_key *k, const char *id);
size_t weight_key_count(const weight_key *k);

typedef struct weight_opts {
	double min_accuracy;	/* the job's minimum standard */
	double alpha;		/* binomial test level */
	double z;		/* robust z-score cut (low side) */
	long classes;		/* chance is 1 / classes */
} weight_opts;

typedef struct weight_trainer {
	unsigned char key[32];
	long long n;		/* the result's sample count */
	long long answered, correct;
	double score;		/* control accuracy, or FLTrust cosine */
	double pvalue, zscore;
	double weight;		/* 0 when excluded */
	long factor;		/* aggregation factor, 0 when excluded */
	int kept;
	char reason[160];	/* why excluded, or "" */
	/* the adaptive control test, replayed (weight_score_adaptive) */
	int adaptive;		/* 1 when it applies */
	int outcome;		/* where it stopped: 1 keep, -1 exclude,
				   0 undecided at its cap */
	double level;		/* its level per look */
} weight_trainer;

/* Score one trainer's "control" object (may be NULL) against the key. */
void weight_score(const weight_key *k, const json_t *control,
    weight_trainer *t);

/*
 * The adaptive control test. A trainer is asked control items in blocks
 * of B (the job's control.block), interleaved among its own items. After
 * each block the asker looks at the m answers so far, k of them right,
 * against the standard s = max(control.min_accuracy, 1/classes):
 *   keep     when k/m > s and P(X >= k) <= a,
 *   exclude  when k/m < s and P(X <= k) <= a,     X ~ Bin(m, s),
 *   else it asks another block, up to cap = min(control.max, K) items,
 * with a = control.alpha / ceil(cap / B): Bonferroni over the looks, so
 * the test's overall error is at most control.alpha. The items come in a
 * fixed order, a permutation of the K items (sorted by id) seeded by
 * BLAKE2b(job id, round, device key): which items and how many a trainer
 * was asked follow from the job, the round, its key and its answers, so
 * dml-weight replays the test.
 */
typedef struct weight_rule {
	long long block, cap;	/* items per block; most items asked */
	double level;		/* a: the level of each look */
	double standard;	/* s */
} weight_rule;

void weight_rule_init(weight_rule *r, const dml_job *j, size_t K);
/* After m answers with k right: 1 keep, -1 exclude, 0 undecided. The
 * asker stops at a decision or when m reaches r->cap. */
int weight_rule_look(const weight_rule *r, long long m, long long k);
/* The order items are asked in: perm[0..K) a permutation of 0..K-1. */
void weight_control_order(const char *job, long long round,
    const unsigned char pk[32], size_t K, size_t *perm);
/* weight_score, then the adaptive test replayed: the trainer's answers
 * must be the first m items of its order, m where the test stops. */
void weight_score_adaptive(const weight_key *k, const weight_rule *r,
    const char *job, long long round, const json_t *control,
    weight_trainer *t);
/* Apply the exclusion tests to all trainers, then set weights. */
void weight_decide(weight_trainer *t, size_t n, const weight_opts *o);
/* P(X >= k) for X ~ Bin(m, p). */
double weight_binom_sf(long long k, long long m, double p);
/* P(X <= k) for X ~ Bin(m, p). */
double weight_binom_cdf(long long k, long long m, double p);
/* The unsigned dml.weight record of a trainer. */
json_t *weight_record(const weight_trainer *t, const char *job,
    long long round, const char *mode);

/* FLTrust mode: score t by its mean update g[dg] against the reference
 * ref[d]: score the cosine, weight the trust (robust_trust), factor in
 * thousandths (at least 1); excluded, with the reason, for a size
 * mismatch, a value that is not finite or no trust. */
void weight_score_fltrust(weight_trainer *t, const double *g, size_t dg,
    const double *ref, size_t d);

/* ---- a round of trainers (dml-weight) ---------------------------------- */

/* One trainer: its result, kept unchanged to be passed on, and its
 * score. */
typedef struct weight_entry {
	json_t *result;		/* owned (a reference) */
	weight_trainer w;
} weight_entry;

typedef struct weight_round {
	const dml_job *job;	/* borrowed; a train job */
	struct agg_intake *intake;	/* owned */
	weight_entry *t;	/* the trainers, in input order */
	size_t n, cap;
} weight_round;

/* A round of job j; verify: check the results' signatures. */
void weight_round_init(weight_round *w, const dml_job *j, int verify);
void weight_round_free(weight_round *w);
/* Read every record of `in`: each must be a dml.result of a train task
 * that the aggregate module's intake takes (agg_intake_result: of the
 * job, of one round, signed, the first from its device). 0; -1 with
 * dml_error "file:line: what" at the first that is not. */
int weight_round_feed(weight_round *w, rec_in *in);
/* The same over files in turn (none, or "-": standard input); -1 also
 * for a file that cannot be opened (a system error) or when no result
 * came at all. */
int weight_round_feed_files(weight_round *w, int nfiles, char *const *files);
/* The round: the first result's. */
long long weight_round_round(const weight_round *w);
/* Control mode: score every trainer on the key, replaying the adaptive
 * test when the job names the control set, then weight_decide. */
void weight_round_control(weight_round *w, const weight_key *k,
    const weight_opts *o);
/* FLTrust mode: weight_score_fltrust of every trainer's mean update
 * against the reference ref[d] (an update that cannot be read is
 * excluded with the reason). */
void weight_round_fltrust(weight_round *w, const double *ref, size_t d);

/* The mean update (delta / weight, f64) of a dml.result ("values") or
 * dml.aggregate ("sum"); malloc'd, *len values. NULL + dml_error. */
double *weight_mean_update(const rec_in *in, const json_t *r, size_t *len);
/* The same of the first record of a file: the FLTrust reference. */
double *weight_update_load(const char *path, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
