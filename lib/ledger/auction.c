/* auction: run order, windows and the clearing price of waiting jobs. */
#include "auction.h"
#include "market.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int
auction_cmp(const auction_job *a, const auction_job *b)
{
	int c = amount_cmp(b->bid, a->bid);	/* highest first */

	if (c)
		return c;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int
qcmp(const void *a, const void *b)
{
	return auction_cmp(a, b);
}

void
auction_sort(auction_job *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof *v, qcmp);
}

void
auction_windows(const auction_job *v, size_t n, long long cap,
    long long *window)
{
	long long w = 0, used = 0;

	for (size_t i = 0; i < n; i++) {
		if (used + v[i].devices > cap) {
			w++;
			used = 0;
		}
		used += v[i].devices;
		window[i] = w;
	}
}

int
auction_suggest(const auction_job *v, size_t n, long long cap,
    long long devices, const char *reserve, mpz_t bid, size_t *ahead)
{
	long long used = 0;
	size_t k = 0;

	if (devices > cap)
		return dml_error("a job of %lld devices never fits in a window "
		    "of %lld", devices, cap);
	while (k < n && used + v[k].devices + devices <= cap)
		used += v[k++].devices;
	*ahead = k;
	if (k == n) {
		mpz_set_str(bid, reserve, 10);
		return 0;
	}
	mpz_set_str(bid, v[k].bid, 10);
	mpz_add_ui(bid, bid, 1);
	if (amount_cmp(v[k].bid, reserve) < 0)	/* never below it */
		mpz_set_str(bid, reserve, 10);
	return 0;
}

void
auction_jobs_free(auction_job *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].bid);
		free(v[i].license);
		free(v[i].line);
	}
	free(v);
}
