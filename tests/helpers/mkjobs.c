/* mkjobs: a helper for benchmarks and tests of dml-auction: N signed stats
 * jobs with pseudo-random bids, device counts and creation times, and a
 * ledger (genesis, then one escrow per job covering its bid).
 *
 *   mkjobs N CUSTOMER.key AUTHORITY.key JOBS.ndjson LEDGER.ndjson
 *
 * The ledger is built in memory (entries checked as dml-ledger would) and
 * written at the end, so no fsync per entry. Deterministic but for the
 * keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "ledger.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
put_entry(FILE *f, ledger *l, json_t *body, const dml_key *k)
{
	const char *line;
	size_t n;

	if (ledger_submit(l, body, k, "2026-01-01T00:00:00Z") < 0)
		dml_fail(2);
	line = ledger_last_line(l, &n);
	fwrite(line, 1, n, f);
	putc('\n', f);
	json_decref(body);
}

int
main(int argc, char **argv)
{
	dml_key cust, auth;
	char hex[65], t[32], nonce[32], bid[32], budget[32];
	FILE *jf, *lf;
	ledger *l;
	long n;

	dml_setprog(argv[0]);
	if (argc != 6 || dml_parse_long(argv[1], 1, 100000000, &n) < 0)
		dml_die(2, "usage: mkjobs N CUSTOMER.key AUTHORITY.key JOBS "
		    "LEDGER");
	if (dml_crypto_init() < 0 || key_load(argv[2], &cust) < 0 ||
	    key_load(argv[3], &auth) < 0)
		dml_fail(2);
	if (!(jf = fopen(argv[4], "w")) || !(lf = fopen(argv[5], "w")))
		dml_die(2, "cannot write the outputs");
	l = ledger_new();
	key_hex(cust.pk, 32, hex);
	put_entry(lf, l, json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s}]}", "op",
	    "genesis", "supply", "1000000000000000", "growth_pool", "0",
	    "bounty_pool", "0", "alloc", "to", hex, "amount",
	    "100000000000000"), &auth);
	for (long i = 0; i < n; i++) {
		long long dev = 1 + (long long)(next() % 50);
		long long b = (long long)(next() % 1000);
		json_t *r = rec_new("dml.job");
		dml_job j;

		timefmt_format(1767225600LL + (long long)(next() % 86400), t);
		json_object_set_new(r, "created", json_string(t));
		json_object_set_new(r, "deadline",
		    json_string("2027-01-01T00:00:00Z"));
		snprintf(nonce, sizeof nonce, "%ld", i);
		json_object_set_new(r, "nonce", json_string(nonce));
		json_object_set_new(r, "task", json_string("stats"));
		json_object_set_new(r, "data", json_string("bench"));
		json_object_set_new(r, "min_devices", json_integer(dev));
		json_object_set_new(r, "min_samples", json_integer(1));
		json_object_set_new(r, "rounds", json_integer(1));
		json_object_set_new(r, "stats", json_pack("{s:i,s:i}",
		    "features", 4, "classes", 3));
		json_object_set_new(r, "limits", json_pack("{s:f}", "max_delta",
		    10.0));
		snprintf(bid, sizeof bid, "%lld", b);
		snprintf(budget, sizeof budget, "%lld", b * dev);
		json_object_set_new(r, "reward", json_pack("{s:s,s:s,s:s,s:{s:s,"
		    "s:s,s:s,s:s}}", "budget", budget, "per_device", bid,
		    "developer_fee", "0", "node_fees", "distributing", "0",
		    "federated", "0", "report", "0", "refining", "0"));
		json_object_set_new(r, "customer", json_string(hex));
		if (rec_sign(r, &cust) < 0 || rec_write(jf, r, NULL) < 0 ||
		    job_from_record(NULL, r, &j) < 0)
			dml_fail(2);
		put_entry(lf, l, ledger_escrow_body(&j), &cust);
		job_free(&j);
	}
	if (fclose(jf) != 0 || fclose(lf) != 0)
		dml_die(2, "write error");
	ledger_close(l);
	key_free(&cust);
	key_free(&auth);
	return 0;
}
