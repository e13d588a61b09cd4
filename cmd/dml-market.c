/* dml-market: the marketplace (developers list algorithms, customers search
 * and buy licenses through the ledger) and its competitions (a customer
 * posts a problem with a hidden test set, entrants submit models, the
 * customer scores them, ranks them and pays the winners). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "cid.h"
#include "data.h"
#include "ipfs.h"
#include "job.h"
#include "ledger.h"
#include "market.h"
#include "model.h"
#include "record.h"
#include "settle.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-market COMMAND [options]\n"
"The marketplace of algorithms and its competitions (see dml-market(1)).\n"
"  publish -k DEVKEY --algorithm FILE|CID --category C --description D\n"
"          --price N --license single|subscription [--period DAYS]\n"
"                       sign a dml.listing, store it on IPFS, index it\n"
"  add [FILE...]        index listings published elsewhere (verified)\n"
"  search [--category C] [--keyword W] [--max-price N]\n"
"                       the matching listings: category, price, id order\n"
"  acquire -k CUSTKEY --listing CID|FILE\n"
"                       pay the developer on the ledger, write a dml.license\n"
"  acquire -k CUSTKEY --listing CID|FILE --rpc URL --escrow ADDR\n"
"          -K ETHKEY -P BOOK   pay in DML tokens on an Ethereum node instead\n"
"  verify --license FILE [--job JOBFILE] [-L LEDGER | --rpc URL\n"
"          --escrow ADDR -P BOOK]\n"
"                       check a license (and that the job may use it), its\n"
"                       payment on the ledger or on chain\n"
"  compete -k CUSTKEY --images FILE --labels FILE --prize N --deadline T\n"
"          [--split P,P,...] [--award-by T] [--metric accuracy|loss]\n"
"          [--description D] [--nonce TEXT] [--rpc URL --escrow ADDR\n"
"          -K ETHKEY]   post a competition, escrow its prize on the ledger\n"
"                       (or deposit it on chain)\n"
"  enter -k KEY --competition FILE --model FILE\n"
"                       store the model on IPFS, write a dml.entry\n"
"  score -k CUSTKEY --competition FILE --images FILE --labels FILE\n"
"          [ENTRIES...]  score the entries, write a dml.leaderboard\n"
"  award -k KEY --competition FILE --leaderboard FILE\n"
"                       pay the winners from the escrowed prize on the\n"
"                       ledger (as dml-settle --competition; on chain:\n"
"                       dml-settle --rpc --competition --leaderboard)\n"
"Options:\n"
"  -k, --key FILE       the signer's secret key (dml-keygen)\n"
"  -L, --ledger FILE    the ledger (default $DML_LEDGER, else\n"
"                       $HOME/.dml/ledger.ndjson)\n"
"  -i, --index FILE     the listing index (default $DML_MARKET_INDEX, else\n"
"                       $HOME/.dml/market.ndjson)\n"
"  -r, --repo DIR, -a, --api URL   the IPFS store, as dml-ipfs-put\n"
"      --time TIME      the record's and the ledger entry's time, RFC 3339\n"
"                       UTC (default now)\n"
"  -o, --output FILE    write the record to FILE (whole or not at all)\n"
"      --rpc URL        an Ethereum node's JSON-RPC URL (as dml-settle)\n"
"      --escrow ADDR    the JobEscrow contract whose token pays (default\n"
"                       $DML_ETH_ESCROW)\n"
"  -K, --eth-key FILE   the paying Ethereum key (dml-keygen --eth)\n"
"  -P, --payees FILE    the address book: signed dml.eth.payee records\n"
"  -h, --help, --version\n";

enum { O_ALG = 256, O_CAT, O_DESC, O_PRICE, O_LIC, O_PERIOD, O_KEYWORD,
	O_MAXP, O_LISTING, O_LICENSE, O_JOB, O_TIME, O_IMAGES, O_LABELS,
	O_PRIZE, O_SPLIT, O_DEADLINE, O_AWARD, O_METRIC, O_COMP, O_MODEL,
	O_BOARD, O_NONCE, O_RPC, O_ESCROW, O_VERSION };

static const struct option opts[] = {
	{"key", required_argument, 0, 'k'},
	{"ledger", required_argument, 0, 'L'},
	{"index", required_argument, 0, 'i'},
	{"repo", required_argument, 0, 'r'},
	{"api", required_argument, 0, 'a'},
	{"output", required_argument, 0, 'o'},
	{"algorithm", required_argument, 0, O_ALG},
	{"category", required_argument, 0, O_CAT},
	{"description", required_argument, 0, O_DESC},
	{"price", required_argument, 0, O_PRICE},
	{"license", required_argument, 0, O_LIC},
	{"period", required_argument, 0, O_PERIOD},
	{"keyword", required_argument, 0, O_KEYWORD},
	{"max-price", required_argument, 0, O_MAXP},
	{"listing", required_argument, 0, O_LISTING},
	{"job", required_argument, 0, O_JOB},
	{"time", required_argument, 0, O_TIME},
	{"images", required_argument, 0, O_IMAGES},
	{"labels", required_argument, 0, O_LABELS},
	{"prize", required_argument, 0, O_PRIZE},
	{"split", required_argument, 0, O_SPLIT},
	{"deadline", required_argument, 0, O_DEADLINE},
	{"award-by", required_argument, 0, O_AWARD},
	{"metric", required_argument, 0, O_METRIC},
	{"competition", required_argument, 0, O_COMP},
	{"model", required_argument, 0, O_MODEL},
	{"leaderboard", required_argument, 0, O_BOARD},
	{"nonce", required_argument, 0, O_NONCE},
	{"rpc", required_argument, 0, O_RPC},
	{"escrow", required_argument, 0, O_ESCROW},
	{"eth-key", required_argument, 0, 'K'},
	{"payees", required_argument, 0, 'P'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{0, 0, 0, 0}};

/* Every option of every command, by its value in opts. */
static const char *opt[O_VERSION + 1];
static const char *cmdname;
static long long now;			/* --time, or the clock */

/* Is name a word of the space-separated list? */
static int
allows(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strncmp(p, name, n) == 0 && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

static void
parse(int argc, char **argv, const char *allowed)
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:L:i:r:a:o:hK:P:", opts, NULL)) != -1) {
		const char *name = NULL;
		if (c == 'h') {
			fputs(usage, stdout);
			dml_close_stdout();
			exit(0);
		}
		if (c == O_VERSION)
			dml_version();
		for (const struct option *x = opts; x->name; x++)
			if (x->val == c)
				name = x->name;
		if (!name)
			dml_usage_error("unknown option");
		if (!allows(allowed, name))
			dml_usage_error("%s takes no --%s", cmdname, name);
		opt[c] = optarg;
	}
	if (optind != argc && !allows(allowed, "FILES"))
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (opt[O_TIME]) {
		if (timefmt_parse(opt[O_TIME], &now) < 0)
			dml_usage_error("--time: %s", dml_errmsg());
	} else
		now = (long long)time(NULL);
}

static const char *
need(int o, const char *what)
{
	if (!opt[o])
		dml_usage_error("%s is required", what);
	return opt[o];
}

static void
load_key(dml_key *k)
{
	if (key_load(need('k', "-k KEY"), k) < 0)
		dml_fail(DML_EXIT_USAGE);
}

/* An option's value, else a default computed once (malloc'd, kept). */
static const char *
path_opt(int o, char *(*deflt)(void))
{
	if (!opt[o])
		opt[o] = deflt();
	return opt[o];
}

static const char *
index_path(void)
{
	return path_opt('i', market_index_default);
}

static const char *
ledger_path(void)
{
	return path_opt('L', ledger_default_path);
}

static void
write_one(const json_t *r)
{
	if (rec_out_one(opt['o'], r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
}

/* --rpc, --escrow, -K: a connection to the node (c->out unset). */
static void
chain_open(chain *c, int need_book)
{
	const char *escrow = opt[O_ESCROW] ? opt[O_ESCROW] :
	    getenv("DML_ETH_ESCROW");

	chain_init(c);
	if (chain_connect(c, opt[O_RPC]) < 0)
		dml_usage_error("--rpc: %s", dml_errmsg());
	if (!escrow || eth_address_parse(escrow, c->escrow) < 0)
		dml_usage_error("--escrow ADDR (or $DML_ETH_ESCROW): the "
		    "JobEscrow whose token pays%s%s", escrow ? ": " : "",
		    escrow ? dml_errmsg() : "");
	c->has_escrow = 1;
	if (opt['K']) {
		if (eth_key_load(opt['K'], &c->key) < 0)
			dml_fail(DML_EXIT_USAGE);
		c->has_key = 1;
	}
	if (need_book && !opt['P'])
		dml_usage_error("--rpc needs -P BOOK (the address book)");
}

static int
exit_of(int rc)
{
	return rc == LEDGER_ESYS || rc == -2 ? DML_EXIT_USAGE :
	    DML_EXIT_REJECT;
}

/* A CID argument, or a file whose CID (of its bytes) is wanted. */
static void
cid_arg(const char *arg, char out[CID_MAXSTR])
{
	cid c;

	if (access(arg, F_OK) == 0) {
		if (cid_of_file(arg, out) < 0)
			dml_fail(DML_EXIT_USAGE);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		dml_usage_error("'%s' is neither a file nor a CID", arg);
	strcpy(out, arg);
}

/* Store a record's line on IPFS; its CID must be the record's id. */
static void
store_line(const json_t *r, const char *id)
{
	ipfs_store *st = ipfs_open(opt['r'], opt['a']);
	char *line, s[CID_MAXSTR];
	size_t n;
	cid c;
	int rc;

	if (!st)
		dml_fail(DML_EXIT_USAGE);
	if (!(line = canon_dump(r, NULL, NULL, &n)))
		dml_fail(DML_EXIT_USAGE);
	line[n++] = '\n';
	if ((rc = ipfs_add_bytes(st, line, n, 0, &c)) < 0)
		dml_fail(exit_of(rc));
	cid_str(&c, s);
	if (strcmp(s, id) != 0)
		dml_die(DML_EXIT_REJECT, "%s: stored as %s, not as its id %s",
		    ipfs_where(st), s, id);
	free(line);
	ipfs_close(st);
}

/* ---- the marketplace ---------------------------------------------------- */

static int
cmd_publish(int argc, char **argv)
{
	char alg[CID_MAXSTR], hex[65], t[32];
	const char *price, *desc;
	enum market_kind kind;
	market_listing l;
	json_t *r, *lic;
	size_t added;
	long period = 0;
	dml_key k;

	parse(argc, argv, "key index repo api output algorithm category "
	    "description price license period time");
	cid_arg(need(O_ALG, "--algorithm FILE|CID"), alg);
	price = need(O_PRICE, "--price N");
	if (!amount_ok(price) || strcmp(price, "0") == 0)
		dml_usage_error("--price: '%s' is not a positive decimal token "
		    "amount", price);
	if (market_kind_parse(need(O_LIC, "--license KIND"), &kind) < 0)
		dml_usage_error("--license: %s", dml_errmsg());
	if (kind == LICENSE_SUBSCRIPTION && (!opt[O_PERIOD] ||
	    dml_parse_long(opt[O_PERIOD], 1, 36600, &period) < 0))
		dml_usage_error("a subscription needs --period DAYS (1 to "
		    "36600)");
	if (kind == LICENSE_SINGLE && opt[O_PERIOD])
		dml_usage_error("--period applies to subscriptions");
	desc = need(O_DESC, "--description TEXT");
	lic = json_pack("{s:s}", "kind", market_kind_name(kind));
	if (period)
		json_object_set_new(lic, "period_days", json_integer(period));
	r = rec_new("dml.listing");
	json_object_set_new(r, "algorithm", json_string(alg));
	json_object_set_new(r, "category",
	    json_string(need(O_CAT, "--category C")));
	json_object_set_new(r, "description", json_string(desc));
	if (!json_object_get(r, "description") ||
	    !json_object_get(r, "category"))
		dml_usage_error("--category and --description must be UTF-8");
	json_object_set_new(r, "price", json_string(price));
	json_object_set_new(r, "license", lic);
	timefmt_format(now, t);
	json_object_set_new(r, "created", json_string(t));
	load_key(&k);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "developer", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	/* what we sign must be what every reader accepts */
	if (market_listing_from_record(NULL, json_incref(r), &l) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	store_line(r, l.id);
	if (market_index_add(index_path(), &l, 1, &added) < 0)
		dml_fail(DML_EXIT_USAGE);
	write_one(r);
	market_listing_free(&l);
	json_decref(r);
	return 0;
}

/* Hand every record of the files (none: standard input) to fn, which
 * returns -1 to refuse it; a bad record ends the program (exit 1). */
static void
each_record(int argc, char **argv,
    int (*fn)(const rec_in *, json_t *, void *), void *ctx)
{
	for (int i = optind; i < (optind == argc ? argc + 1 : argc); i++) {
		rec_in *in = rec_open(i < argc ? argv[i] : NULL);
		json_t *r;
		int rc;

		if (!in)
			dml_fail(DML_EXIT_USAGE);
		rec_set_copy(in, 1);
		while ((rc = rec_next(in, &r)) > 0)
			if (fn(in, r, ctx) < 0)
				dml_fail(DML_EXIT_REJECT);
		if (rc < 0)
			dml_fail(DML_EXIT_REJECT);
		rec_close(in);
	}
}

/* A growing array of records of one kind. */
struct many {
	void *v;
	size_t n, cap, size;
	const market_comp *comp;	/* entries: their competition */
};

static void *
many_next(struct many *m)
{
	if (m->n == m->cap)
		m->v = xrealloc(m->v, (m->cap = m->cap ? 2 * m->cap : 16) *
		    m->size);
	return (char *)m->v + m->n * m->size;
}

static int
add_listing(const rec_in *in, json_t *r, void *ctx)
{
	struct many *m = ctx;

	if (market_listing_from_record(in, r, many_next(m)) < 0)
		return -1;
	m->n++;
	return 0;
}

static int
cmd_add(int argc, char **argv)
{
	struct many m = {NULL, 0, 0, sizeof(market_listing), NULL};
	market_listing *v;
	size_t added;
	rec_out *out;

	parse(argc, argv, "index output FILES");
	each_record(argc, argv, add_listing, &m);
	v = m.v;
	if (!(out = rec_out_open(opt['o'])))
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < m.n; i++)
		if (rec_out_write(out, v[i].rec, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
	if (market_index_add(index_path(), v, m.n, &added) < 0 ||
	    rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_listings_free(v, m.n);
	return 0;
}

static int
cmd_search(int argc, char **argv)
{
	market_query q = {0};
	market_listing *v;
	size_t n;
	rec_out *out;

	parse(argc, argv, "index output category keyword max-price");
	q.category = opt[O_CAT];
	q.keyword = opt[O_KEYWORD];
	q.max_price = opt[O_MAXP];
	if (q.max_price && !amount_ok(q.max_price))
		dml_usage_error("--max-price: '%s' is not a decimal token "
		    "amount", q.max_price);
	if (market_index_load(index_path(), &v, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!(out = rec_out_open(opt['o'])))
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < n; i++)
		if (market_listing_match(&v[i], &q) &&
		    rec_out_write(out, v[i].rec, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_listings_free(v, n);
	return 0;
}

static int
file_sink(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : dml_error("out of memory");
}

/* The bytes of a CID from the IPFS store, verified block by block
 * (*p malloc'd, NUL-terminated). */
static void
fetch(const char *id, char **p, size_t *n)
{
	ipfs_store *st = ipfs_open(opt['r'], opt['a']);
	FILE *f = open_memstream(p, n);
	cid c;
	int rc;

	if (!st || !f || cid_parse(&c, id) < 0)
		dml_fail(DML_EXIT_USAGE);
	if ((rc = ipfs_cat(st, &c, file_sink, f)) < 0)
		dml_die(exit_of(rc), "%s: %s", id, dml_errmsg());
	if (fclose(f) != 0)
		dml_die(DML_EXIT_USAGE, "out of memory");
	ipfs_close(st);
}

/* A listing: a file, or a CID found in the index or else on IPFS. */
static void
find_listing(const char *arg, market_listing *l)
{
	market_listing *v;
	size_t n;
	char *buf;
	size_t len;
	json_error_t je;
	json_t *r;
	cid c;

	if (access(arg, F_OK) == 0) {
		rec_in *in;
		if (!(r = rec_read_one(arg, &in)) ||
		    market_listing_from_record(in, r, l) < 0)
			dml_fail(DML_EXIT_REJECT);
		rec_close(in);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		dml_usage_error("--listing: '%s' is neither a file nor a CID",
		    arg);
	if (market_index_load(index_path(), &v, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, arg) == 0) {
			*l = v[i];
			v[i].rec = NULL;
			market_listings_free(v, n);
			return;
		}
	market_listings_free(v, n);
	{	/* a blockstore answers at once whether it has the block */
		ipfs_store *st = ipfs_open(opt['r'], opt['a']);
		int has = st && !ipfs_is_remote(st) ?
		    ipfs_block_has(st, &c) : 1;
		ipfs_close(st);
		if (has != 1)
			dml_die(DML_EXIT_REJECT, "unknown listing %s: not in "
			    "the index %s nor in the IPFS store", arg,
			    index_path());
	}
	fetch(arg, &buf, &len);
	r = json_loadb(buf, len, 0, &je);
	free(buf);
	if (!r)
		dml_die(DML_EXIT_REJECT, "%s:%d: malformed JSON: %s", arg,
		    je.line, je.text);
	if (market_listing_from_record(NULL, r, l) < 0)
		dml_die(DML_EXIT_REJECT, "%s: %s", arg, dml_errmsg());
	if (strcmp(l->id, arg) != 0)
		dml_die(DML_EXIT_REJECT, "%s: the record stored there is not "
		    "canonical (its id is %s)", arg, l->id);
}

/* Pay listing l's price on the ledger: the entry's seq and hash. */
static json_t *
pay_ledger(const market_listing *l, const char *hex, const dml_key *k)
{
	json_t *body, *pay;
	char head[65];
	ledger *led;
	mpz_t bal, price;
	int rc;

	if ((rc = ledger_open(&led, ledger_path(), LEDGER_WRITE, NULL,
	    NULL)) < 0)
		dml_fail(exit_of(rc));
	mpz_inits(bal, price, NULL);
	ledger_balance(led, hex, bal);
	mpz_set_str(price, l->price, 10);
	if (mpz_cmp(bal, price) < 0) {
		char *b = mpz_get_str(NULL, 10, bal);
		dml_die(DML_EXIT_REJECT, "insufficient funds: listing %s costs "
		    "%s tokens, the balance of %.16s... is %s", l->id, l->price,
		    hex, b);
	}
	mpz_clears(bal, price, NULL);
	body = json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", l->developer,
	    "amount", l->price);
	if ((rc = ledger_submit(led, body, k, opt[O_TIME])) < 0)
		dml_fail(exit_of(rc));
	ledger_head(led, head);
	pay = market_ledger_payment(ledger_entries(led) - 1, head);
	ledger_close(led);
	json_decref(body);
	return pay;
}

/* Pay listing l's price in tokens on chain: the transaction. */
static json_t *
pay_chain(const market_listing *l, const char *hex)
{
	json_t *pay;
	chain c;
	int rc;

	chain_open(&c, 1);
	if (!opt['K'])
		dml_usage_error("acquire --rpc needs -K ETHKEY (the payer)");
	if ((rc = chain_pay_listing(&c, l, hex, opt['P'], &pay)) < 0)
		dml_fail(chain_exit(rc));
	chain_close(&c);
	return pay;
}

static int
cmd_acquire(int argc, char **argv)
{
	market_listing l;
	market_license c;
	json_t *r;
	char hex[65];
	rec_out *out;
	dml_key k;

	parse(argc, argv, "key ledger index repo api output listing time rpc "
	    "escrow eth-key payees");
	if (opt[O_RPC] && opt['L'])
		dml_usage_error("-L (the ledger) or --rpc (a chain), not both");
	if (!opt[O_RPC] && (opt[O_ESCROW] || opt['K'] || opt['P']))
		dml_usage_error("--escrow, -K and -P need --rpc URL");
	find_listing(need(O_LISTING, "--listing CID|FILE"), &l);
	load_key(&k);
	key_hex(k.pk, 32, hex);
	if (strcmp(hex, l.developer) == 0)
		dml_die(DML_EXIT_REJECT, "listing %s is your own", l.id);
	if (!(out = rec_out_open(opt['o'])))
		dml_fail(DML_EXIT_USAGE);
	r = market_license_new(&l, hex, now, opt[O_RPC] ? pay_chain(&l, hex) :
	    pay_ledger(&l, hex, &k));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	if (market_license_from_record(NULL, json_incref(r), &c) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	if (rec_out_write(out, r, NULL) < 0 || rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_license_free(&c);
	market_listing_free(&l);
	json_decref(r);
	return 0;
}

static int
cmd_verify(int argc, char **argv)
{
	market_license c;
	long long created;
	char jid[CID_MAXSTR] = "";
	dml_job j;
	int rc;

	parse(argc, argv, "ledger license job rpc escrow payees");
	if (!opt[O_RPC] && (opt[O_ESCROW] || opt['P']))
		dml_usage_error("--escrow and -P need --rpc URL");
	if (market_license_load(need(O_LIC, "--license FILE"), &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (opt[O_JOB]) {
		char cust[65];
		const char *lic, *cr;
		if (job_load(opt[O_JOB], &j) < 0)
			dml_fail(DML_EXIT_REJECT);
		int single;
		lic = job_license(&j, &single);
		if (!lic || strcmp(lic, c.id) != 0)
			dml_die(DML_EXIT_REJECT, "%s: the job names %s%s, not "
			    "license %s", opt[O_JOB], lic ? "license " : "",
			    lic ? lic : "no license", c.id);
		if (single != (c.kind == LICENSE_SINGLE))
			dml_die(DML_EXIT_REJECT, "%s: the job calls license %s "
			    "%s, it is %s", opt[O_JOB], c.id, single ? "single" :
			    "subscription", market_kind_name(c.kind));
		cr = json_string_value(json_object_get(j.rec, "created"));
		if (!cr || timefmt_parse(cr, &created) < 0)
			dml_die(DML_EXIT_REJECT, "%s: the job has no valid "
			    "\"created\" time", opt[O_JOB]);
		key_hex(j.customer, 32, cust);
		if (market_license_allows(&c, cust, j.model, created) < 0)
			dml_die(DML_EXIT_REJECT, "%s: %s", opt[O_JOB],
			    dml_errmsg());
		strcpy(jid, j.id);
		job_free(&j);
	}
	/* -L: the payment (unless it is on chain and --rpc checks it) and,
	 * for a single-use license, the escrow that used it */
	if (opt['L'] && !(c.pay_chain && opt[O_RPC]) &&
	    (rc = market_license_paid(&c, ledger_path())) < 0)
		dml_fail(exit_of(rc));
	if (opt['L'] && (rc = market_license_unused(&c, ledger_path(), *jid ?
	    jid : NULL)) < 0)
		dml_fail(exit_of(rc));
	if (opt[O_RPC]) {
		chain ch;
		chain_open(&ch, 1);
		if ((rc = chain_license_paid(&c, &ch, opt['P'])) < 0)
			dml_fail(chain_exit(rc));
		chain_close(&ch);
	}
	market_license_free(&c);
	return 0;
}

/* ---- competitions ------------------------------------------------------- */

static void
parse_split(const char *s, json_t *a)
{
	char *d = xstrdup(s), *save, *tok;
	long v;

	for (tok = strtok_r(d, ",", &save); tok; tok = strtok_r(NULL, ",",
	    &save)) {
		if (dml_parse_long(tok, 1, 100, &v) < 0)
			dml_usage_error("--split: '%s' is not a percentage "
			    "from 1 to 100", tok);
		json_array_append_new(a, json_integer(v));
	}
	free(d);
}

static int
cmd_compete(int argc, char **argv)
{
	char img[CID_MAXSTR], lab[CID_MAXSTR], t[32], hex[65], nb[33];
	long long deadline, award_by;
	unsigned char nonce[16];
	market_comp c;
	json_t *r, *split = json_array(), *body;
	rec_out *out;
	ledger *led;
	dml_key k;
	int rc;

	parse(argc, argv, "key ledger output images labels prize split "
	    "deadline award-by metric description time nonce rpc escrow "
	    "eth-key");
	if (opt[O_RPC] && opt['L'])
		dml_usage_error("-L (the ledger) or --rpc (a chain), not both");
	if (cid_of_file(need(O_IMAGES, "--images FILE"), img) < 0 ||
	    cid_of_file(need(O_LABELS, "--labels FILE"), lab) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!amount_ok(need(O_PRIZE, "--prize N")) ||
	    strcmp(opt[O_PRIZE], "0") == 0)
		dml_usage_error("--prize: want a positive decimal token amount");
	if (timefmt_parse(need(O_DEADLINE, "--deadline TIME"),
	    &deadline) < 0)
		dml_usage_error("--deadline: %s", dml_errmsg());
	if (deadline <= now)
		dml_usage_error("--deadline is not after the creation time");
	award_by = deadline + 7 * 86400;
	if (opt[O_AWARD] && timefmt_parse(opt[O_AWARD], &award_by) < 0)
		dml_usage_error("--award-by: %s", dml_errmsg());
	parse_split(opt[O_SPLIT] ? opt[O_SPLIT] : "100", split);
	r = rec_new("dml.competition");
	json_object_set_new(r, "test", json_pack("{s:s,s:s}", "images", img,
	    "labels", lab));
	json_object_set_new(r, "metric", json_string(opt[O_METRIC] ?
	    opt[O_METRIC] : "accuracy"));
	json_object_set_new(r, "prize", json_string(opt[O_PRIZE]));
	json_object_set_new(r, "split", split);
	timefmt_format(now, t);
	json_object_set_new(r, "created", json_string(t));
	timefmt_format(deadline, t);
	json_object_set_new(r, "deadline", json_string(t));
	timefmt_format(award_by, t);
	json_object_set_new(r, "award_by", json_string(t));
	if (opt[O_DESC])
		json_object_set_new(r, "description",
		    json_string(opt[O_DESC]));
	if (opt[O_NONCE])
		json_object_set_new(r, "nonce", json_string(opt[O_NONCE]));
	else {
		randombytes_buf(nonce, sizeof nonce);
		key_hex(nonce, sizeof nonce, nb);
		json_object_set_new(r, "nonce", json_string(nb));
	}
	if (!json_object_get(r, "nonce"))
		dml_usage_error("--nonce must be UTF-8");
	load_key(&k);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "customer", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (market_comp_from_record(NULL, json_incref(r), &c) < 0)
		dml_usage_error("%s", dml_errmsg());
	if (!(out = rec_out_open(opt['o'])) || rec_out_write(out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (opt[O_RPC]) {
		/* on chain: deposited on JobEscrow under the competition's id */
		chain ch;
		chain_open(&ch, 0);
		if (!opt['K'])
			dml_usage_error("compete --rpc needs -K ETHKEY (the "
			    "depositor)");
		if (!(ch.out = rec_out_open(NULL)))
			dml_fail(DML_EXIT_USAGE);
		rc = chain_deposit_id(&ch, c.id, c.prize, c.award_by);
		if (rc < 0)
			dml_fail(chain_exit(rc));
		rec_out_abort(ch.out);
		chain_close(&ch);
		goto commit;
	}
	if ((rc = ledger_open(&led, ledger_path(), LEDGER_WRITE, NULL,
	    NULL)) < 0)
		dml_fail(exit_of(rc));
	/* the prize is escrowed under the competition's id until award_by */
	body = json_pack("{s:s,s:s,s:s,s:O,s:s}", "op", "escrow", "job", c.id,
	    "amount", c.prize, "deadline", json_object_get(r, "award_by"),
	    "customer", hex);
	if ((rc = ledger_submit(led, body, &k, opt[O_TIME])) < 0)
		dml_fail(exit_of(rc));
	ledger_close(led);
	json_decref(body);
commit:
	key_free(&k);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_comp_free(&c);
	json_decref(r);
	return 0;
}

static int
cmd_enter(int argc, char **argv)
{
	char t[CID_MAXSTR], hex[65], mc[CID_MAXSTR];
	market_comp c;
	market_entry e;
	ipfs_store *st;
	uint64_t size;
	dml_model m;
	json_t *r;
	cid id;
	dml_key k;
	int rc;

	parse(argc, argv, "key repo api output competition model time");
	if (market_comp_load(need(O_COMP, "--competition FILE"), &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (model_load(&m, need(O_MODEL, "--model FILE")) < 0)
		dml_fail(DML_EXIT_REJECT);
	model_free(&m);
	if (cid_of_file(opt[O_MODEL], mc) < 0)
		dml_fail(DML_EXIT_USAGE);
	r = rec_new("dml.entry");
	json_object_set_new(r, "competition", json_string(c.id));
	json_object_set_new(r, "model", json_string(mc));
	timefmt_format(now, t);
	json_object_set_new(r, "created", json_string(t));
	load_key(&k);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "entrant", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	if (market_entry_from_record(NULL, json_incref(r), &c, &e) < 0)
		dml_die(DML_EXIT_REJECT, "%s", dml_errmsg());
	/* only a valid entry's model is stored, under the CID it names */
	if (!(st = ipfs_open(opt['r'], opt['a'])))
		dml_fail(DML_EXIT_USAGE);
	if ((rc = ipfs_add_file(st, opt[O_MODEL], 0, &id, &size)) < 0)
		dml_fail(exit_of(rc));
	ipfs_close(st);
	cid_str(&id, t);
	if (strcmp(t, mc) != 0)
		dml_die(DML_EXIT_USAGE, "%s changed while it was stored",
		    opt[O_MODEL]);
	write_one(r);
	market_entry_free(&e);
	market_comp_free(&c);
	json_decref(r);
	return 0;
}

/* The hidden test set must be the one the competition committed to. */
static void
test_set(const market_comp *c, dml_data *d)
{
	char img[CID_MAXSTR], lab[CID_MAXSTR];

	if (cid_of_file(need(O_IMAGES, "--images FILE"), img) < 0 ||
	    cid_of_file(need(O_LABELS, "--labels FILE"), lab) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (strcmp(img, c->images) != 0 || strcmp(lab, c->labels) != 0)
		dml_die(DML_EXIT_REJECT, "the test set is not the one "
		    "competition %s committed to (images %s, labels %s)",
		    c->id, c->images, c->labels);
	if (data_load_idx(d, opt[O_IMAGES], opt[O_LABELS]) < 0)
		dml_fail(DML_EXIT_REJECT);
}

static int
add_entry(const rec_in *in, json_t *r, void *ctx)
{
	struct many *m = ctx;

	if (market_entry_from_record(in, r, m->comp, many_next(m)) < 0)
		return -1;
	m->n++;
	return 0;
}

static market_entry *
read_entries(int argc, char **argv, const market_comp *c, size_t *n)
{
	struct many m = {NULL, 0, 0, sizeof(market_entry), c};

	each_record(argc, argv, add_entry, &m);
	*n = m.n;
	return m.v;
}

static int
cmd_score(int argc, char **argv)
{
	market_comp c;
	market_entry *e;
	market_score *s;
	size_t n, ns = 0;
	json_t *r, *disq;
	char hex[65];
	dml_data d;
	dml_key k;

	parse(argc, argv, "key repo api output competition images labels "
	    "time FILES");
	if (market_comp_load(need(O_COMP, "--competition FILE"), &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	load_key(&k);
	key_hex(k.pk, 32, hex);
	if (strcmp(hex, c.customer) != 0)
		dml_die(DML_EXIT_USAGE, "-k: only the competition's customer "
		    "scores it");
	if (now < c.deadline)
		dml_die(DML_EXIT_REJECT, "competition %s is open until its "
		    "deadline %s", c.id, json_string_value(json_object_get(
		    c.rec, "deadline")));
	test_set(&c, &d);
	e = read_entries(argc, argv, &c, &n);
	market_entries_sort(e, n);
	s = xcalloc(n ? n : 1, sizeof *s);
	disq = json_array();
	for (size_t i = 0; i < n; i++) {
		char *buf;
		size_t len;
		int bad = 0;
		/* a model entered before (by anyone) is not entered again */
		for (size_t j = 0; j < i && !bad; j++)
			bad = strcmp(e[j].model, e[i].model) == 0;
		if (bad)
			dml_warn("entry %s: model %s was entered before; "
			    "disqualified", e[i].id, e[i].model);
		else {
			fetch(e[i].model, &buf, &len);
			bad = market_model_score(&c, buf, len, &d, &s[ns]) < 0;
			free(buf);
			if (bad)
				dml_warn("entry %s: model %s: %s; disqualified",
				    e[i].id, e[i].model, dml_errmsg());
		}
		if (bad)
			json_array_append_new(disq, json_string(e[i].id));
		else
			s[ns++].e = &e[i];
	}
	market_rank(s, ns);
	r = market_leaderboard_new(&c, s, ns, (long long)d.n, disq, now);
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	write_one(r);
	json_decref(r);
	for (size_t i = 0; i < n; i++)
		market_entry_free(&e[i]);
	free(e);
	free(s);
	data_free(&d);
	market_comp_free(&c);
	return 0;
}

/* The prize paid on the ledger: the same library call as dml-settle
 * --competition. */
static int
cmd_award(int argc, char **argv)
{
	market_comp c;
	json_t *pr;
	char hash[65];
	long long seq;
	dml_key k;
	int rc;

	parse(argc, argv, "key ledger output competition leaderboard time");
	if (market_comp_load(need(O_COMP, "--competition FILE"), &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	need(O_BOARD, "--leaderboard FILE");
	load_key(&k);
	if ((rc = market_award_ledger(ledger_path(), &c, opt[O_BOARD], &k,
	    opt[O_TIME], &pr, &seq, hash)) < 0)
		dml_fail(exit_of(rc));
	key_free(&k);
	write_one(pr);
	json_decref(pr);
	market_comp_free(&c);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"publish", cmd_publish}, {"add", cmd_add},
		{"search", cmd_search}, {"acquire", cmd_acquire},
		{"verify", cmd_verify}, {"compete", cmd_compete},
		{"enter", cmd_enter}, {"score", cmd_score},
		{"award", cmd_award}};

	dml_setprog(argv[0]);
	if (argc < 2)
		dml_usage_error("a command is required");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		dml_close_stdout();
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		dml_version();
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			cmdname = cmds[i].name;
			cmds[i].fn(argc - 1, argv + 1);
			dml_close_stdout();
			return 0;
		}
	dml_usage_error("unknown command '%s'", argv[1]);
}
