/* dml-auction: the distributing node's auction: order the waiting jobs by
 * their bids (tokens per device-run) into windows of the capacity, refuse
 * the jobs whose escrow does not cover their bid, and suggest the bid a new
 * job needs to run in the next window. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auction.h"
#include "job.h"
#include "ledger.h"
#include "market.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-auction -c N [-L LEDGER] [--time T] [--reserve A] [--jobs]\n"
"                   [-o FILE] [FILE...]\n"
"       dml-auction -c N --suggest [--devices N] [-L LEDGER] [FILE...]\n"
"Read the waiting jobs (dml.job records; none or -: standard input), refuse\n"
"those whose escrow does not cover their bid, and write them in run order:\n"
"highest bid (reward.per_device) first, equal bids by arrival (created,\n"
"then job id), one dml.slot record each with the window it runs in.\n"
"  -c, --capacity N     devices available in a window\n"
"  -L, --ledger FILE    the ledger holding the escrows (default\n"
"                       $DML_LEDGER, else $HOME/.dml/ledger.ndjson)\n"
"      --time TIME      the auction's time, RFC 3339 UTC (default now):\n"
"                       jobs past their deadline are refused\n"
"      --reserve A      the least bid accepted (default 0)\n"
"  -j, --jobs           write the job records themselves in run order\n"
"  -s, --suggest        print the bid (a dml.price record) a new job needs\n"
"                       to run in the next window, and nothing else\n"
"  -n, --devices N      the new job's devices (default 1)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

struct state {
	ledger *led;
	long long cap, now;
	const char *reserve;
	int keep_lines;
	auction_job *v;
	size_t n, cap_v;
	long refused;
};

/* Is the job's escrow open and at least bid x devices? */
static int
escrow_covers(struct state *s, const dml_job *j, const char *bid)
{
	static const char *state[] = {"open", "settled", "refunded"};
	ledger_escrow e;
	char cust[65];
	mpz_t need;
	int ok;

	if (ledger_escrow_get(s->led, j->id, &e) < 0) {
		const char *lic = job_license(j, &ok), *by;
		if (lic && ok && ledger_license_use(s->led, lic, &by, NULL) == 0)
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

/* A job refused: a message naming it, not scheduled. */
static void
refuse(struct state *s, const rec_in *in, const char *id, const char *why)
{
	dml_warn("%s:%ld: job %s refused: %s", rec_name(in), rec_line(in), id,
	    why);
	s->refused++;
}

static int
take(struct state *s, const rec_in *in, json_t *r)
{
	const char *bid, *t;
	long long deadline, created;
	auction_job *a;
	dml_job j;

	/* the signature is proven by the escrow (see job_from_escrowed): a
	 * job without its customer's escrow is refused below */
	if (rec_detach(in, r) < 0) {	/* long strings: Paillier keys */
		json_decref(r);
		return -1;
	}
	if (job_from_escrowed(in, r, &j) < 0)
		return -1;
	bid = json_string_value(json_object_get(json_object_get(j.rec,
	    "reward"), "per_device"));
	t = json_string_value(json_object_get(j.rec, "created"));
	if (!t || timefmt_parse(t, &created) < 0 ||
	    timefmt_parse(json_string_value(json_object_get(j.rec,
	    "deadline")), &deadline) < 0) {
		job_free(&j);
		return rec_err(in, "field \"created\" or \"deadline\" is not an "
		    "RFC 3339 UTC time");
	}
	if (amount_cmp(bid, s->reserve) < 0)
		refuse(s, in, j.id, "the bid is below the reserve price");
	else if (j.min_devices > s->cap)
		refuse(s, in, j.id, "it needs more devices than a window has");
	else if (deadline <= s->now)
		refuse(s, in, j.id, "its deadline has passed");
	else if (escrow_covers(s, &j, bid) < 0)
		refuse(s, in, j.id, dml_errmsg());
	else {
		int single;
		const char *lic = job_license(&j, &single);
		if (s->n == s->cap_v)
			s->v = xrealloc(s->v, (s->cap_v = s->cap_v ?
			    2 * s->cap_v : 1024) * sizeof *s->v);
		a = &s->v[s->n++];
		memset(a, 0, sizeof *a);
		strcpy(a->id, j.id);
		a->bid = xstrdup(bid);
		a->created = created;
		a->devices = j.min_devices;
		a->license = single ? xstrdup(lic) : NULL;
		if (s->keep_lines && !(a->line = canon_dump(j.rec, in, NULL,
		    &a->len))) {
			job_free(&j);
			return -1;
		}
	}
	job_free(&j);
	return 0;
}

/* Every record of every input; -1 at the first bad one. */
static int
read_jobs(struct state *s, int argc, char **argv)
{
	for (int i = optind; i < (optind == argc ? argc + 1 : argc); i++) {
		rec_in *in = rec_open(i < argc ? argv[i] : NULL);
		json_t *r;
		int rc;

		if (!in)
			return -2;
		while ((rc = rec_next(in, &r)) > 0)
			if (take(s, in, r) < 0) {
				rc = -1;
				break;
			}
		rec_close(in);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(((const auction_job *)a)->id,
	    ((const auction_job *)b)->id);
}

/* Single-use licenses first, by license, then in run order. */
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

/* A single-use license runs one job: the first to arrive; the others
 * naming it are refused. */
static void
single_use(struct state *s)
{
	size_t k = 0;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, license_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (i && s->v[i].license && s->v[k - 1].license &&
		    strcmp(s->v[i].license, s->v[k - 1].license) == 0) {
			dml_warn("job %s refused: single-use license %s is "
			    "bound to job %s", s->v[i].id, s->v[i].license,
			    s->v[k - 1].id);
			s->refused++;
			free(s->v[i].bid);
			free(s->v[i].license);
			free(s->v[i].line);
			continue;
		}
		s->v[k++] = s->v[i];
	}
	s->n = k;
}

int
main(int argc, char **argv)
{
	enum { O_TIME = 256, O_RESERVE, O_VERSION };
	static const struct option opts[] = {
		{"capacity", required_argument, 0, 'c'},
		{"ledger", required_argument, 0, 'L'},
		{"time", required_argument, 0, O_TIME},
		{"reserve", required_argument, 0, O_RESERVE},
		{"jobs", no_argument, 0, 'j'},
		{"suggest", no_argument, 0, 's'},
		{"devices", required_argument, 0, 'n'},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	struct state s;
	const char *lpath = NULL, *out = NULL;
	char *deflt = NULL;
	long cap = -1, devices = 1;
	int c, suggest = 0, rc;
	long long *win;
	rec_out *o;

	memset(&s, 0, sizeof s);
	s.reserve = "0";
	s.now = (long long)time(NULL);
	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "c:L:jsn:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (dml_parse_long(optarg, 1, 1L << 50, &cap) < 0)
				dml_usage_error("--capacity: %s", dml_errmsg());
			break;
		case 'n':
			if (dml_parse_long(optarg, 1, 1L << 50, &devices) < 0)
				dml_usage_error("--devices: %s", dml_errmsg());
			break;
		case 'L': lpath = optarg; break;
		case O_TIME:
			if (timefmt_parse(optarg, &s.now) < 0)
				dml_usage_error("--time: %s", dml_errmsg());
			break;
		case O_RESERVE:
			if (!amount_ok(optarg))
				dml_usage_error("--reserve: '%s' is not a "
				    "decimal token amount", optarg);
			s.reserve = optarg;
			break;
		case 'j': s.keep_lines = 1; break;
		case 's': suggest = 1; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (cap < 0)
		dml_usage_error("--capacity N is required");
	if (suggest && s.keep_lines)
		dml_usage_error("--suggest prints a price, not jobs");
	s.cap = cap;
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!lpath)
		lpath = deflt = ledger_default_path();
	if ((rc = ledger_open(&s.led, lpath, 0, NULL, NULL)) < 0)
		dml_fail(rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT);
	if ((rc = read_jobs(&s, argc, argv)) < 0)
		dml_fail(rc == -2 ? DML_EXIT_USAGE : DML_EXIT_REJECT);
	ledger_close(s.led);
	free(deflt);

	/* a job listed twice runs once */
	if (s.n > 1)
		qsort(s.v, s.n, sizeof *s.v, id_cmp);
	for (size_t i = 1; i < s.n; i++)
		if (strcmp(s.v[i].id, s.v[i - 1].id) == 0)
			dml_die(DML_EXIT_REJECT, "job %s is listed twice",
			    s.v[i].id);
	single_use(&s);
	auction_sort(s.v, s.n);
	if (!(o = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	if (suggest) {
		json_t *r = rec_new("dml.price");
		size_t ahead;
		mpz_t bid;
		char *b;
		mpz_init(bid);
		if (auction_suggest(s.v, s.n, s.cap, devices, s.reserve, bid,
		    &ahead) < 0)
			dml_fail(DML_EXIT_REJECT);
		b = mpz_get_str(NULL, 10, bid);
		json_object_set_new(r, "bid", json_string(b));
		json_object_set_new(r, "devices", json_integer(devices));
		json_object_set_new(r, "capacity", json_integer(cap));
		json_object_set_new(r, "waiting", json_integer((json_int_t)s.n));
		json_object_set_new(r, "ahead", json_integer((json_int_t)ahead));
		if (rec_out_write(o, r, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
		free(b);
		mpz_clear(bid);
		json_decref(r);
	} else {
		win = xmalloc((s.n ? s.n : 1) * sizeof *win);
		auction_windows(s.v, s.n, s.cap, win);
		for (size_t i = 0; i < s.n; i++) {
			if (s.keep_lines) {
				s.v[i].line[s.v[i].len] = '\n';
				rc = rec_out_raw(o, s.v[i].line, s.v[i].len + 1);
			} else {
				char buf[512];
				int k = snprintf(buf, sizeof buf, "{\"bid\":\"%s\","
				    "\"devices\":%lld,\"job\":\"%s\",\"rank\":%zu,"
				    "\"type\":\"dml.slot\",\"v\":1,\"window\":%lld}"
				    "\n", s.v[i].bid, s.v[i].devices, s.v[i].id,
				    i + 1, win[i]);
				rc = k > 0 && (size_t)k < sizeof buf ?
				    rec_out_raw(o, buf, (size_t)k) : -1;
			}
			if (rc < 0)
				dml_fail(DML_EXIT_USAGE);
		}
		free(win);
	}
	if (rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	auction_jobs_free(s.v, s.n);
	dml_close_stdout();
	return 0;
}
