/* dml-auction: the distributing node's auction: order the waiting jobs by
 * their bids (tokens per device-run) into windows of the capacity, refuse
 * the jobs the auction's rules refuse (lib/ledger/auction), and suggest the
 * bid a new job needs to run in the next window. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amount.h"
#include "auction.h"
#include "cli.h"
#include "job.h"
#include "ledger.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-auction --capacity N [-L LEDGER] [--time T] [--reserve A]\n"
"                   [--jobs] [-o FILE] [FILE...]\n"
"       dml-auction --capacity N --suggest [--devices N] [-L LEDGER]\n"
"                   [FILE...]\n"
"Read the waiting jobs (dml.job records; none or -: standard input), refuse\n"
"those whose escrow does not cover their bid, and write them in run order:\n"
"highest bid (reward.per_device) first, equal bids by arrival (created,\n"
"then job id), one dml.slot record each with the window it runs in.\n"
"      --capacity N     devices available in a window\n"
"  -L, --ledger FILE    the ledger holding the escrows (default\n"
"                       $DML_LEDGER, else $HOME/.dml/ledger.ndjson)\n"
"      --time TIME      the auction's time, RFC 3339 UTC (default now):\n"
"                       jobs past their deadline are refused\n"
"      --reserve A      the least bid accepted (default 0)\n"
"      --jobs           write the job records themselves in run order\n"
"      --suggest        print the bid (a dml.price record) a new job needs\n"
"                       to run in the next window, and nothing else\n"
"      --devices N      the new job's devices (default 1)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help           this help\n"
"      --version        print the version\n"
"The old spellings -c, -j, -s and -n still work, with a warning.\n";

enum { O_CAP = CLI_ID_BASE, O_TIME, O_RESERVE, O_JOBS, O_SUGGEST,
	O_DEVICES };

static const cli_opt opts[] = {
	{"capacity", 0, 1, O_CAP, NULL, 'c', NULL},
	{"ledger", 'L', 1, 0, NULL, 0, NULL},
	{"time", 0, 1, O_TIME, NULL, 0, NULL},
	{"reserve", 0, 1, O_RESERVE, NULL, 0, NULL},
	{"jobs", 0, 0, O_JOBS, NULL, 'j', NULL},
	{"suggest", 0, 0, O_SUGGEST, NULL, 's', NULL},
	{"devices", 0, 1, O_DEVICES, NULL, 'n', NULL},
	CLI_OUTPUT,
	CLI_END};

struct state {
	auction_terms t;
	int keep_lines;			/* --jobs: keep each job's line */
	auction_job *v;
	size_t n, size;
	long refused;
};

/* A job refused by a rule: a message naming it, not scheduled. */
static void
refuse(void *ctx, const auction_job *j, const char *why)
{
	struct state *s = ctx;

	dml_warn("job %s refused: %s", j->id, why);
	s->refused++;
}

static int
take(struct state *s, const rec_in *in, json_t *r)
{
	auction_job a;
	dml_job j;
	int rc;

	/* the signature is proven by the escrow (see job_from_escrowed): a
	 * job without its customer's escrow is refused by auction_admit */
	if (rec_detach(in, r) < 0) {	/* long strings: Paillier keys */
		json_decref(r);
		return -1;
	}
	if (job_from_escrowed(in, r, &j) < 0)
		return -1;
	rc = auction_admit(&s->t, in, &j, &a);
	if (rc == AUCTION_REFUSED) {
		dml_warn("%s:%ld: job %s refused: %s", rec_name(in),
		    rec_line(in), j.id, dml_errmsg());
		s->refused++;
	} else if (rc == 0 && s->keep_lines &&
	    !(a.line = canon_dump(j.rec, in, NULL, &a.len))) {
		free(a.bid);
		free(a.license);
		rc = -1;
	} else if (rc == 0) {
		if (s->n == s->size)
			s->v = xrealloc(s->v, (s->size = s->size ?
			    2 * s->size : 1024) * sizeof *s->v);
		s->v[s->n++] = a;
	}
	job_free(&j);
	return rc < 0 ? -1 : 0;
}

/* Every record of every input (none: standard input); -1 at the first
 * bad one. */
static int
read_jobs(struct state *s, const cli *c)
{
	for (int i = 0; i < (c->nops ? c->nops : 1); i++) {
		rec_in *in = rec_open(cli_operand(c, i));
		json_t *r;
		int rc;

		if (!in)
			return -1;
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

static void
write_price(struct state *s, rec_out *o, long devices)
{
	json_t *r = rec_new("dml.price");
	size_t ahead;
	mpz_t bid;
	char *b;

	mpz_init(bid);
	if (auction_suggest(s->v, s->n, s->t.cap, devices, s->t.reserve, bid,
	    &ahead) < 0)
		dml_fail(DML_EXIT_REJECT);
	b = mpz_get_str(NULL, 10, bid);
	json_object_set_new(r, "bid", json_string(b));
	json_object_set_new(r, "devices", json_integer(devices));
	json_object_set_new(r, "capacity", json_integer(s->t.cap));
	json_object_set_new(r, "waiting", json_integer((json_int_t)s->n));
	json_object_set_new(r, "ahead", json_integer((json_int_t)ahead));
	if (rec_out_write(o, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	free(b);
	mpz_clear(bid);
	json_decref(r);
}

/* One dml.slot per job (or, with --jobs, the job's own line). */
static void
write_slots(struct state *s, rec_out *o)
{
	long long *win = xmalloc((s->n ? s->n : 1) * sizeof *win);
	int rc;

	auction_windows(s->v, s->n, s->t.cap, win);
	for (size_t i = 0; i < s->n; i++) {
		auction_job *a = &s->v[i];
		if (s->keep_lines) {
			a->line[a->len] = '\n';
			rc = rec_out_raw(o, a->line, a->len + 1);
		} else {
			char buf[512];
			int k = snprintf(buf, sizeof buf, "{\"bid\":\"%s\","
			    "\"devices\":%lld,\"job\":\"%s\",\"rank\":%zu,"
			    "\"type\":\"dml.slot\",\"v\":1,\"window\":%lld}\n",
			    a->bid, a->devices, a->id, i + 1, win[i]);
			rc = k > 0 && (size_t)k < sizeof buf ?
			    rec_out_raw(o, buf, (size_t)k) : -1;
		}
		if (rc < 0)
			dml_fail(DML_EXIT_USAGE);
	}
	free(win);
}

int
main(int argc, char **argv)
{
	struct state s;
	const char *lpath = NULL, *out = NULL;
	char *deflt = NULL;
	long cap = -1, devices = 1;
	int o, suggest = 0, rc;
	ledger *led;
	rec_out *ro;
	cli c;

	memset(&s, 0, sizeof s);
	s.t.reserve = "0";
	s.t.now = (long long)time(NULL);
	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case O_CAP: cap = cli_long(&c, 1, 1L << 50); break;
		case O_DEVICES: devices = cli_long(&c, 1, 1L << 50); break;
		case 'L': lpath = c.arg; break;
		case O_TIME: cli_time(&c, &s.t.now); break;
		case O_RESERVE: s.t.reserve = cli_amount(&c); break;
		case O_JOBS: s.keep_lines = 1; break;
		case O_SUGGEST: suggest = 1; break;
		case 'o': out = c.arg; break;
		}
	}
	if (cap < 0)
		cli_usage_error("--capacity N is required");
	if (suggest && s.keep_lines)
		cli_usage_error("--suggest prints a price, not jobs");
	s.t.cap = cap;
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!lpath)
		lpath = deflt = ledger_default_path();
	if ((rc = ledger_open(&led, lpath, 0, NULL, NULL)) < 0)
		dml_fail(dml_exit_of(rc));
	s.t.led = led;
	if (read_jobs(&s, &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	ledger_close(led);
	free(deflt);

	/* a job listed twice runs once; a single-use license runs one job */
	if (auction_unique(s.v, s.n) < 0)
		dml_fail(DML_EXIT_REJECT);
	s.n = auction_single_use(s.v, s.n, refuse, &s);
	auction_sort(s.v, s.n);
	if (!(ro = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	if (suggest)
		write_price(&s, ro, devices);
	else
		write_slots(&s, ro);
	if (rec_out_commit(ro) < 0)
		dml_fail(DML_EXIT_USAGE);
	auction_jobs_free(s.v, s.n);
	dml_close_stdout();
	return 0;
}
