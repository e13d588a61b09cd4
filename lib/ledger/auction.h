/*
 * auction: the distributing node's ordering of waiting jobs by their bids.
 *
 * A job bids its reward.per_device: the tokens it pays for one device-run,
 * and needs min_devices devices. Jobs run in order of bid, highest first;
 * equal bids in order of arrival: the job's "created" time, then its id.
 * The next window has a capacity of C devices and is filled in that order
 * strictly: the first job that does not fit closes the window (no smaller
 * job jumps the queue), and the next window starts with it.
 *
 * The clearing price for a new job of N devices is the least bid that puts
 * it in the next window: with S(k) the devices of the first k jobs in run
 * order and k the largest count with S(k) + N <= C, it is the (k+1)-th
 * job's bid plus one token, or the reserve price when every waiting job
 * fits (k = all), and never below the reserve. A new job arrives last,
 * so it must beat, not equal, the bid it displaces.
 *
 * Which jobs may wait at all are the auction's rules too, here so that
 * any node can apply them the same way: a job is refused when its bid is
 * below the reserve, it needs more devices than a window has, its
 * deadline has passed, or its escrow on the ledger does not back its bid
 * (auction_escrow_covers); of the jobs naming one single-use license only
 * the first to arrive runs (auction_single_use); a job listed twice is an
 * error of the input (auction_unique). A refusal is the auction's normal
 * work: the other jobs still run.
 *
 * Not for: reading records and writing slots (cmd/dml-auction.c), the
 * ledger's own rules (ledger).
 */
#ifndef DML_AUCTION_H
#define DML_AUCTION_H

#include <gmp.h>
#include <stddef.h>

#include "cid.h"
#include "job.h"
#include "ledger.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auction_job {
	char id[CID_MAXSTR];
	char *bid;			/* decimal token amount (malloc'd) */
	long long created;		/* seconds since the epoch */
	long long devices;		/* min_devices */
	char *license;			/* single-use license, or NULL */
	char *line;			/* canonical line, or NULL (malloc'd) */
	size_t len;
} auction_job;

/* Run order (see above). */
int auction_cmp(const auction_job *a, const auction_job *b);
void auction_sort(auction_job *v, size_t n);
/* The window of each job of a sorted list (0: the next window). Every
 * job must need at most cap devices. */
void auction_windows(const auction_job *v, size_t n, long long cap,
    long long *window);
/* The clearing price of a new job of `devices` devices given the sorted
 * waiting jobs; *ahead: how many jobs run before it. -1 with dml_error if
 * devices > cap. */
int auction_suggest(const auction_job *v, size_t n, long long cap,
    long long devices, const char *reserve, mpz_t bid, size_t *ahead);
void auction_jobs_free(auction_job *v, size_t n);

/* What a waiting job must meet to be ordered. */
typedef struct auction_terms {
	const ledger *led;		/* the escrows (borrowed) */
	long long cap;			/* devices in a window */
	long long now;			/* the auction's time, seconds */
	const char *reserve;		/* the least bid (token amount) */
} auction_terms;

/* auction_admit's answer for a job the auction does not take. */
enum { AUCTION_REFUSED = 1 };

/* The escrow rule: the ledger holds an open escrow of job j's id, made
 * by the job's customer, of at least bid x min_devices. When it holds
 * none and j names a single-use license that another job's escrow used,
 * the message says so. 0, or -1 with dml_error saying why not. */
int auction_escrow_covers(const ledger *led, const dml_job *j,
    const char *bid);
/* May job j (read by job_from_escrowed from `in`) wait for a window
 * under terms t? 0: *a is filled (id, bid, created, devices, and license
 * when single-use, malloc'd; line unset); AUCTION_REFUSED with dml_error
 * saying why; -1 with dml_error naming `in` when the record has no valid
 * "created" or "deadline" time. */
int auction_admit(const auction_terms *t, const rec_in *in,
    const dml_job *j, auction_job *a);

/* Told of each job a rule refuses: why (borrowed, for this call). */
typedef void auction_refuse_fn(void *ctx, const auction_job *j,
    const char *why);
/* The single-use rule: a single-use license runs one job, the first to
 * arrive (created, then id); each other job naming it is refused (told
 * to `refused`, may be NULL) and freed. The jobs kept stay at the front
 * of v, in no particular order (auction_sort them); returns their count. */
size_t auction_single_use(auction_job *v, size_t n,
    auction_refuse_fn *refused, void *ctx);
/* Each job once: -1 with dml_error naming a job listed twice. Reorders v
 * (by id). */
int auction_unique(auction_job *v, size_t n);
#ifdef __cplusplus
}
#endif

#endif
