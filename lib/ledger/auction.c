/* auction: run order, windows and the clearing price of waiting jobs,
 * and the rules that decide which jobs may wait (see auction.h). */
#include "auction.h"
#include "amount.h"
#include "sign.h"
#include "timefmt.h"
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

static void
job_clear(auction_job *a)
{
	free(a->bid);
	free(a->license);
	free(a->line);
}

void
auction_jobs_free(auction_job *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		job_clear(&v[i]);
	free(v);
}

int
auction_escrow_covers(const ledger *led, const dml_job *j, const char *bid)
{
	static const char *state[] = {"open", "settled", "refunded"};
	ledger_escrow e;
	char cust[65];
	mpz_t need;
	int ok;

	if (ledger_escrow_get(led, j->id, &e) < 0) {
		const char *lic = job_license(j, &ok), *by;
		if (lic && ok && ledger_license_use(led, lic, &by, NULL) == 0)
			return dml_error("single-use license %s is used by job "
			    "%s", lic, by);
		return dml_error("no escrow on the ledger");
	}
	key_hex(j->customer, 32, cust);
	if (strcmp(e.customer, cust) != 0)
		return dml_error("the escrow is not the job's customer's");
	if (e.state != ESCROW_OPEN)
		return dml_error("the escrow is already %s", state[e.state]);
	mpz_init_set_str(need, bid, 10);
	mpz_mul_ui(need, need, (unsigned long)j->min_devices);
	ok = mpz_cmp(e.amount, need) >= 0;
	if (!ok) {
		char *a = mpz_get_str(NULL, 10, e.amount),
		     *b = mpz_get_str(NULL, 10, need);
		dml_error("escrow %s does not cover the bid %s x %lld devices "
		    "= %s", a, bid, j->min_devices, b);
		free(a);
		free(b);
	}
	mpz_clear(need);
	return ok ? 0 : -1;
}

/* A job field holding an RFC 3339 time. */
static int
job_time(const dml_job *j, const char *field, long long *t)
{
	const char *s = json_string_value(json_object_get(j->rec, field));

	return s ? timefmt_parse(s, t) : -1;
}

int
auction_admit(const auction_terms *t, const rec_in *in, const dml_job *j,
    auction_job *a)
{
	const char *bid, *lic;
	long long deadline, created;
	int single;

	bid = json_string_value(json_object_get(json_object_get(j->rec,
	    "reward"), "per_device"));
	if (job_time(j, "created", &created) < 0 ||
	    job_time(j, "deadline", &deadline) < 0)
		return rec_err(in, "field \"created\" or \"deadline\" is not an "
		    "RFC 3339 UTC time");
	if (amount_cmp(bid, t->reserve) < 0)
		return dml_error("the bid is below the reserve price"),
		    AUCTION_REFUSED;
	if (j->min_devices > t->cap)
		return dml_error("it needs more devices than a window has"),
		    AUCTION_REFUSED;
	if (deadline <= t->now)
		return dml_error("its deadline has passed"), AUCTION_REFUSED;
	if (auction_escrow_covers(t->led, j, bid) < 0)
		return AUCTION_REFUSED;
	lic = job_license(j, &single);
	memset(a, 0, sizeof *a);
	strcpy(a->id, j->id);
	a->bid = xstrdup(bid);
	a->created = created;
	a->devices = j->min_devices;
	a->license = single ? xstrdup(lic) : NULL;
	return 0;
}

/* Single-use licenses first, by license, then in order of arrival. */
static int
license_cmp(const void *pa, const void *pb)
{
	const auction_job *a = pa, *b = pb;

	if (!a->license || !b->license)
		return !a->license - !b->license;
	if (strcmp(a->license, b->license))
		return strcmp(a->license, b->license);
	return a->created != b->created ? (a->created < b->created ? -1 : 1) :
	    strcmp(a->id, b->id);
}

size_t
auction_single_use(auction_job *v, size_t n, auction_refuse_fn *refused,
    void *ctx)
{
	size_t k = 0;

	if (n > 1)
		qsort(v, n, sizeof *v, license_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && v[i].license && v[k - 1].license &&
		    strcmp(v[i].license, v[k - 1].license) == 0) {
			dml_error("single-use license %s is bound to job %s",
			    v[i].license, v[k - 1].id);
			if (refused)
				refused(ctx, &v[i], dml_errmsg());
			job_clear(&v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	return k;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(((const auction_job *)a)->id,
	    ((const auction_job *)b)->id);
}

int
auction_unique(auction_job *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof *v, id_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].id, v[i - 1].id) == 0)
			return dml_error("job %s is listed twice", v[i].id);
	return 0;
}
