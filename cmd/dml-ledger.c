/* dml-ledger: the embedded smart contract: an append-only, hash-chained,
 * signed ledger file of token movements (see lib/ledger.h). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amount.h"
#include "job.h"
#include "ledger.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-ledger [-L FILE] [--time TIME] COMMAND [options]\n"
"The embedded smart contract: an append-only, hash-chained, signed ledger\n"
"of tokens (default $DML_LEDGER, else $HOME/.dml/ledger.ndjson).\n"
"Writing commands (each prints the new entry's seq and hash):\n"
"  genesis  -k AUTH --supply N --growth-pool N --bounty-pool N\n"
"           [--alloc KEY=AMOUNT]...   the rest of the supply goes to AUTH\n"
"  transfer -k KEY --to KEY --amount N\n"
"  escrow   -k CUSTOMER --job FILE    lock the job's budget\n"
"  refund   -k CUSTOMER --job ID|FILE after the deadline, if not settled\n"
"  bounty   -k AUTH --to KEY --amount N [--reason TEXT]\n"
"  emit     -k AUTH --epoch K --owners FILE   growth pool emission\n"
"Reading commands:\n"
"  verify                   replay: hashes, signatures, rules, supply\n"
"  balance [ACCOUNT]        one account, or all of them sorted\n"
"  history [ACCOUNT | --job ID|FILE]   the entries that touch it\n"
"Options:\n"
"  -L, --ledger FILE    the ledger file\n"
"      --time TIME      the entry's time, RFC 3339 UTC (default now)\n"
"  -k, --key FILE       the submitter's secret key (dml-keygen)\n"
"  KEY is a hex public key, a dml.pubkey file or a secret key file;\n"
"  amounts are decimal integers of tokens.\n"
"  -h, --help, --version\n";

enum { O_TIME = 256, O_SUPPLY, O_GROWTH, O_BOUNTY, O_ALLOC, O_TO, O_AMOUNT,
	O_JOB, O_REASON, O_EPOCH, O_OWNERS, O_VERSION };

static const struct option opts[] = {
	{"ledger", required_argument, 0, 'L'},
	{"time", required_argument, 0, O_TIME},
	{"key", required_argument, 0, 'k'},
	{"supply", required_argument, 0, O_SUPPLY},
	{"growth-pool", required_argument, 0, O_GROWTH},
	{"bounty-pool", required_argument, 0, O_BOUNTY},
	{"alloc", required_argument, 0, O_ALLOC},
	{"to", required_argument, 0, O_TO},
	{"amount", required_argument, 0, O_AMOUNT},
	{"job", required_argument, 0, O_JOB},
	{"reason", required_argument, 0, O_REASON},
	{"epoch", required_argument, 0, O_EPOCH},
	{"owners", required_argument, 0, O_OWNERS},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{0, 0, 0, 0}};

/* Every option of every command; each command says which it takes. */
static struct {
	const char *ledger, *time, *key, *supply, *growth, *bounty, *to,
	    *amount, *job, *reason, *epoch, *owners;
	json_t *alloc;
} o;

static int
exit_of(int rc)
{
	return rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT;
}

static const char *
need_amount(const char *s, const char *what)
{
	if (!s)
		dml_usage_error("%s is required", what);
	if (!amount_ok(s))
		dml_usage_error("%s: '%s' is not a decimal token amount", what, s);
	return s;
}

/* A public key argument as hex (a static buffer per call site). */
static void
key_arg(const char *arg, char hex[65])
{
	unsigned char pk[32];

	if (pubkey_load(arg, pk) < 0)
		dml_usage_error("%s", dml_errmsg());
	key_hex(pk, 32, hex);
}

/* Is name one of the space-separated words of list? */
static int
takes(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

static void
parse(int argc, char **argv, const char *allowed)
{
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "L:k:h", opts, NULL)) != -1) {
		const struct option *op = NULL;
		for (const struct option *x = opts; x->name; x++)
			if (x->val == c)
				op = x;
		if (c != 'h' && c != O_VERSION && c != 'L' && c != O_TIME &&
		    op && !takes(allowed, op->name))
			dml_usage_error("%s takes no --%s", argv[0], op->name);
		switch (c) {
		case 'L': o.ledger = optarg; break;
		case O_TIME: o.time = optarg; break;
		case 'k': o.key = optarg; break;
		case O_SUPPLY: o.supply = optarg; break;
		case O_GROWTH: o.growth = optarg; break;
		case O_BOUNTY: o.bounty = optarg; break;
		case O_TO: o.to = optarg; break;
		case O_AMOUNT: o.amount = optarg; break;
		case O_JOB: o.job = optarg; break;
		case O_REASON: o.reason = optarg; break;
		case O_EPOCH: o.epoch = optarg; break;
		case O_OWNERS: o.owners = optarg; break;
		case O_ALLOC: {
			char *eq = strchr(optarg, '='), hex[65];
			if (!eq)
				dml_usage_error("--alloc wants KEY=AMOUNT");
			*eq = 0;
			key_arg(optarg, hex);
			json_array_append_new(o.alloc, json_pack("{s:s,s:s}",
			    "to", hex, "amount", need_amount(eq + 1, "--alloc")));
			break;
		}
		case 'h': fputs(usage, stdout); dml_close_stdout(); exit(0);
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (o.time) {
		long long t;
		if (timefmt_parse(o.time, &t) < 0)
			dml_usage_error("--time: %s", dml_errmsg());
	}
}

static ledger *
open_ledger(int flags, ledger_visit_fn visit, void *ctx)
{
	static char *deflt;
	ledger *l;
	int rc;

	if (!o.ledger)
		o.ledger = deflt = ledger_default_path();
	rc = ledger_open(&l, o.ledger, flags, visit, ctx);

	if (rc < 0)
		dml_fail(exit_of(rc));
	if (ledger_torn(l))
		dml_warn("%s: warning: a torn last line (%lld bytes, an "
		    "interrupted append) %s", o.ledger,
		    (long long)ledger_torn(l), flags & LEDGER_WRITE ?
		    "was discarded" : "is ignored; the next write discards it");
	return l;
}

static void
load_key(dml_key *k)
{
	if (!o.key)
		dml_usage_error("-k KEY is required");
	if (key_load(o.key, k) < 0)
		dml_fail(DML_EXIT_USAGE);
}

/* Sign, append, print {seq, hash}, close. */
static int
submit(ledger *l, json_t *body, dml_key *k)
{
	json_t *r;
	char hex[65];
	int rc = ledger_submit(l, body, k, o.time);

	key_free(k);
	if (rc < 0) {
		ledger_close(l);
		dml_fail(exit_of(rc));
	}
	ledger_head(l, hex);
	r = rec_new("dml.appended");
	json_object_set(r, "op", json_object_get(body, "op"));
	json_object_set_new(r, "seq", json_integer(ledger_entries(l) - 1));
	json_object_set_new(r, "hash", json_string(hex));
	ledger_close(l);
	json_decref(body);
	rec_print_final(r);
	return 0;
}

static int
alloc_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a,
	    "to")), json_string_value(json_object_get(*(json_t *const *)b,
	    "to")));
}

static int
cmd_genesis(int argc, char **argv)
{
	json_t *body, **v;
	size_t n;
	dml_key k;

	parse(argc, argv, "key supply growth-pool bounty-pool alloc");
	need_amount(o.supply, "--supply");
	need_amount(o.growth, "--growth-pool");
	need_amount(o.bounty, "--bounty-pool");
	n = json_array_size(o.alloc);
	v = xmalloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(o.alloc, i);
	qsort(v, n, sizeof *v, alloc_cmp);
	body = json_pack("{s:s,s:s,s:s,s:s}", "op", "genesis", "supply",
	    o.supply, "growth_pool", o.growth, "bounty_pool", o.bounty);
	if (n) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++) {
			if (i && alloc_cmp(&v[i - 1], &v[i]) == 0)
				dml_usage_error("--alloc names a key twice");
			json_array_append(a, v[i]);
		}
		json_object_set_new(body, "alloc", a);
	}
	free(v);
	load_key(&k);
	return submit(open_ledger(LEDGER_WRITE | LEDGER_CREATE, NULL, NULL),
	    body, &k);
}

static int
cmd_transfer(int argc, char **argv)
{
	char to[65];
	dml_key k;

	parse(argc, argv, "key to amount");
	if (!o.to)
		dml_usage_error("--to KEY is required");
	key_arg(o.to, to);
	need_amount(o.amount, "--amount");
	load_key(&k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), json_pack(
	    "{s:s,s:s,s:s}", "op", "transfer", "to", to, "amount", o.amount),
	    &k);
}

static int
cmd_bounty(int argc, char **argv)
{
	char to[65];
	json_t *b;
	dml_key k;

	parse(argc, argv, "key to amount reason");
	if (!o.to)
		dml_usage_error("--to KEY is required");
	key_arg(o.to, to);
	need_amount(o.amount, "--amount");
	if (o.reason && strlen(o.reason) > 1000)
		dml_usage_error("--reason: at most 1000 bytes");
	b = json_pack("{s:s,s:s,s:s}", "op", "bounty", "to", to, "amount",
	    o.amount);
	if (o.reason)
		json_object_set_new(b, "reason", json_string(o.reason));
	if (o.reason && !json_object_get(b, "reason"))
		dml_usage_error("--reason is not UTF-8");
	load_key(&k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), b, &k);
}

static int
cmd_escrow(int argc, char **argv)
{
	dml_job j;
	json_t *b;
	dml_key k;

	parse(argc, argv, "key job");
	if (!o.job)
		dml_usage_error("--job FILE is required");
	if (job_load(o.job, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	b = ledger_escrow_body(&j);
	job_free(&j);
	load_key(&k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), b, &k);
}

/* --job takes a job id or a job file. */
static void
job_arg(const char *arg, char id[CID_MAXSTR])
{
	cid c;
	dml_job j;

	if (access(arg, F_OK) == 0) {
		if (job_load(arg, &j) < 0)
			dml_fail(DML_EXIT_REJECT);
		strcpy(id, j.id);
		job_free(&j);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		dml_usage_error("--job: '%s' is neither a job file nor a job id",
		    arg);
	strcpy(id, arg);
}

static int
cmd_refund(int argc, char **argv)
{
	char id[CID_MAXSTR], *amt;
	ledger_escrow e;
	ledger *l;
	json_t *b;
	dml_key k;

	parse(argc, argv, "key job");
	if (!o.job)
		dml_usage_error("--job ID|FILE is required");
	job_arg(o.job, id);
	load_key(&k);
	l = open_ledger(LEDGER_WRITE, NULL, NULL);
	amt = ledger_escrow_get(l, id, &e) == 0 ?
	    mpz_get_str(NULL, 10, e.amount) : xstrdup("0");
	b = json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id, "amount", amt);
	free(amt);
	return submit(l, b, &k);
}

static int
cmd_emit(int argc, char **argv)
{
	char (*owners)[65];
	size_t n;
	long ep;
	int rc;
	ledger *l;
	json_t *b;
	dml_key k;

	parse(argc, argv, "key epoch owners");
	if (!o.epoch || !o.owners)
		dml_usage_error("--epoch K and --owners FILE are required");
	if (dml_parse_long(o.epoch, 0, LEDGER_MAX_EPOCH, &ep) < 0)
		dml_usage_error("--epoch: %s", dml_errmsg());
	if ((rc = ledger_read_owners(o.owners, &owners, &n)) < 0)
		dml_fail(rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT);
	load_key(&k);
	l = open_ledger(LEDGER_WRITE, NULL, NULL);
	if (ledger_emit_body(l, ep, owners, n, &b) < 0) {
		ledger_close(l);
		dml_fail(DML_EXIT_REJECT);
	}
	free(owners);
	return submit(l, b, &k);
}

static int
cmd_verify(int argc, char **argv)
{
	ledger *l;
	json_t *r;
	char hex[65], *s;
	size_t n;

	parse(argc, argv, "");
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	l = open_ledger(LEDGER_VERIFY, NULL, NULL);
	if (ledger_entries(l) == 0)
		dml_warn("%s: warning: empty ledger (no genesis)", o.ledger);
	free(ledger_accounts(l, &n));
	ledger_head(l, hex);
	s = mpz_get_str(NULL, 10, ledger_supply(l));
	r = rec_new("dml.verified");
	json_object_set_new(r, "entries", json_integer(ledger_entries(l)));
	json_object_set_new(r, "head", json_string(hex));
	json_object_set_new(r, "supply", json_string(s));
	json_object_set_new(r, "accounts", json_integer((json_int_t)n));
	json_object_set_new(r, "torn", json_integer(ledger_torn(l)));
	free(s);
	ledger_close(l);
	rec_print_final(r);
	return 0;
}

/* An ACCOUNT argument: a reserved name, or anything naming a key. */
static void
account_arg(const char *arg, char *out, size_t n)
{
	char hex[65];

	if (ledger_account_ok(arg)) {
		snprintf(out, n, "%s", arg);
		return;
	}
	if (strncmp(arg, "pool:", 5) == 0 || strncmp(arg, "escrow:", 7) == 0)
		dml_usage_error("'%s' is not an account", arg);
	key_arg(arg, hex);
	snprintf(out, n, "%s", hex);
}

static int
cmd_balance(int argc, char **argv)
{
	char acct[CID_MAXSTR + 8];
	const char **names, *one[1];
	size_t n;
	ledger *l;
	rec_out *out;
	mpz_t b;

	parse(argc, argv, "");
	if (argc - optind > 1)
		dml_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc)
		account_arg(argv[optind], acct, sizeof acct);
	l = open_ledger(0, NULL, NULL);
	if (optind < argc) {
		one[0] = acct;
		names = one;
		n = 1;
	} else
		names = ledger_accounts(l, &n);
	if (!(out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	mpz_init(b);
	for (size_t i = 0; i < n; i++) {
		json_t *r = rec_new("dml.balance");
		char *s;
		ledger_balance(l, names[i], b);
		s = mpz_get_str(NULL, 10, b);
		json_object_set_new(r, "account", json_string(names[i]));
		json_object_set_new(r, "amount", json_string(s));
		free(s);
		if (rec_out_write(out, r, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
		json_decref(r);
	}
	mpz_clear(b);
	if (names != one)
		free(names);
	ledger_close(l);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

struct hist {
	const char *account, *job;
	rec_out *out;
};

static int
history_visit(void *ctx, const json_t *e, const char *line, size_t len,
    const unsigned char hash[32])
{
	struct hist *h = ctx;
	const char *job = json_string_value(json_object_get(e, "job"));
	int hit = h->job ? job && strcmp(job, h->job) == 0 :
	    ledger_entry_touches(e, h->account);

	if (hit && (rec_out_raw(h->out, line, len) < 0 ||
	    rec_out_raw(h->out, "\n", 1) < 0))
		return LEDGER_ESYS;
	return 0;
}

static int
cmd_history(int argc, char **argv)
{
	char acct[CID_MAXSTR + 8], id[CID_MAXSTR];
	struct hist h = {NULL, NULL, NULL};
	ledger *l;

	parse(argc, argv, "job");
	if (argc - optind > 1 || (o.job && optind < argc))
		dml_usage_error("give one ACCOUNT or --job ID");
	if (o.job) {
		job_arg(o.job, id);
		h.job = id;
	} else if (optind < argc) {
		account_arg(argv[optind], acct, sizeof acct);
		h.account = acct;
	} else
		dml_usage_error("give an ACCOUNT or --job ID");
	if (!(h.out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	l = open_ledger(0, history_visit, &h);
	ledger_close(l);
	if (rec_out_commit(h.out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} cmds[] = {
	{"genesis", cmd_genesis}, {"transfer", cmd_transfer},
	{"escrow", cmd_escrow}, {"refund", cmd_refund},
	{"bounty", cmd_bounty}, {"emit", cmd_emit}, {"verify", cmd_verify},
	{"balance", cmd_balance}, {"history", cmd_history}};

int
main(int argc, char **argv)
{
	int c;

	dml_setprog(argv[0]);
	o.alloc = json_array();
	while ((c = getopt_long(argc, argv, "+L:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L': o.ledger = optarg; break;
		case O_TIME: o.time = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option before the command");
		}
	}
	if (optind == argc)
		dml_usage_error("no command");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			return cmds[i].fn(argc - optind, argv + optind);
	dml_usage_error("unknown command '%s'", argv[optind]);
}
