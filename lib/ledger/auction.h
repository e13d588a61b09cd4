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
 * fits (k = all), and never below the reserve. A new job arrives last, so it must beat, not equal, the
 * bid it displaces.
 *
 * Not for: reading records, escrows (cmd/dml-auction.c, ledger).
 */
#ifndef DML_AUCTION_H
#define DML_AUCTION_H

#include <gmp.h>
#include <stddef.h>

#include "cid.h"

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

#ifdef __cplusplus
}
#endif

#endif
