/* dml-settle: execute a job's contract: compute the payouts from the job's
 * reward terms, the report node's contributions and the escrow, and append
 * them to the ledger as one settle entry; or, with --rpc, commit them to
 * the JobEscrow contract on an Ethereum node as one Merkle root that each
 * payee claims against (and the few chain operations around it: deploy,
 * deposit, transfer, claim, balance, status, refund). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cid.h"
#include "eth.h"
#include "ipfs.h"
#include "job.h"
#include "keccak.h"
#include "ledger.h"
#include "merkle.h"
#include "record.h"
#include "settle.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-settle [-L LEDGER] -k KEY --job JOBFILE --stored STORED\n"
"                  --contributions FILE [--time TIME] [--dry-run]\n"
"Execute a job's contract: pay the developer, the nodes, the trainers and\n"
"the contributing devices from the job's escrow, exactly as its reward\n"
"terms say, return the rest to the customer, and append it all to the\n"
"ledger as one entry. A job settles once. Prints the dml.payouts record,\n"
"then the new entry's seq and hash.\n"
"  -L, --ledger FILE        the ledger (default $DML_LEDGER, else\n"
"                           $HOME/.dml/ledger.ndjson)\n"
"  -k, --key FILE           the submitter's secret key (any node)\n"
"  -j, --job FILE           the job (dml.job)\n"
"  -s, --stored FILE        the stored report's receipt (dml.stored)\n"
"  -c, --contributions FILE the report node's signed dml.contributions\n"
"      --time TIME          the entry's time, RFC 3339 UTC (default now)\n"
"  -n, --dry-run            compute and print the payouts, append nothing\n"
"  -h, --help, --version\n"
"\n"
"On an Ethereum node (see dml-settle(1), ETHEREUM):\n"
"usage: dml-settle --rpc URL --escrow ADDR --eth-key K --payees BOOK\n"
"                  --job JOBFILE --stored STORED --contributions FILE\n"
"       dml-settle --rpc URL claim --escrow ADDR --payouts FILE\n"
"                  (--index N | --address ADDR [--role R]) [--eth-key K]\n"
"                  [--proof-only]\n"
"       dml-settle --rpc URL deploy --eth-key K --contracts DIR\n"
"                  [--supply N] [--growth-pool N] [--bounty-pool N]\n"
"                  [--settler ADDR]\n"
"       dml-settle --rpc URL deposit|status|refund --escrow ADDR --job J\n"
"                  [--eth-key K] [--amount N]\n"
"       dml-settle --rpc URL transfer --escrow ADDR --eth-key K --to ADDR\n"
"                  --amount N\n"
"       dml-settle --rpc URL balance --escrow ADDR ADDRESS...\n"
"  -r, --rpc URL            the node's JSON-RPC URL (default $DML_ETH_RPC)\n"
"  -e, --escrow ADDR        the JobEscrow contract (default $DML_ETH_ESCROW)\n"
"  -K, --eth-key FILE       the sender's key (dml-keygen --eth)\n"
"  -P, --payees FILE        the address book: signed dml.eth.payee records\n"
"      --chain-id N         refuse a node on another chain\n"
"      --nonce N            send with this nonce (default: the next one)\n"
"      --timeout S          seconds to wait for a receipt (default 60)\n"
"      --payouts FILE       claim: dml-settle's dml.eth.payouts output\n"
"      --index N, --address ADDR, --role R   claim: which leaf\n"
"      --proof-only         claim: print the proof, send nothing\n"
"      --force              claim: skip the local checks (tests)\n";

/* The one record of a file, with its reader (for positions and strings). */
static json_t *
one_record(const char *path, rec_in **inp)
{
	rec_in *in = rec_open(path);
	json_t *r, *extra;
	int rc;

	if (!in)
		dml_fail(DML_EXIT_USAGE);
	rc = rec_next(in, &r);
	if (rc == 0)
		dml_die(DML_EXIT_REJECT, "%s: empty input: no record", path);
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	if (rec_detach(in, r) < 0)
		dml_fail(DML_EXIT_REJECT);
	rc = rec_next(in, &extra);
	if (rc > 0)
		dml_die(DML_EXIT_REJECT, "%s:%ld: more than one record", path,
		    rec_line(in));
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	*inp = in;
	return r;
}

/* The report's CID from its dml.stored receipt. */
static void
stored_cid(const char *path, char out[CID_MAXSTR])
{
	rec_in *in;
	json_t *r = one_record(path, &in);
	const char *s;
	cid c;

	if (rec_check(in, r, "dml.stored") < 0 ||
	    rec_get_str(in, r, "cid", &s) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (strlen(s) >= CID_MAXSTR || cid_parse(&c, s) < 0)
		dml_die(DML_EXIT_REJECT, "%s:1: field \"cid\" is not a CID", path);
	strcpy(out, s);
	json_decref(r);
	rec_close(in);
}

/* Read and verify the contributions; *id is the CID of their line. */
static void
contributions(const char *path, const char *job, settle_contrib *c,
    char id[CID_MAXSTR])
{
	rec_in *in;
	json_t *r = one_record(path, &in);
	size_t n;
	char *line;

	if (settle_contrib_parse(in, r, c) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (strcmp(c->job, job) != 0)
		dml_die(DML_EXIT_REJECT, "%s:1: the contributions are for job "
		    "%s, not %s", path, c->job, job);
	if (!(line = canon_dump(r, NULL, NULL, &n)))
		dml_fail(DML_EXIT_USAGE);
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	if (cid_of_bytes(line, n + 1, id) < 0)
		dml_fail(DML_EXIT_USAGE);
	free(line);
	json_decref(r);
	rec_close(in);
}

static int
exit_of(int rc)
{
	return rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT;
}


/* ---- the Ethereum back end (--rpc) ------------------------------------ */

/* Custom errors of the contracts in contrib/ethereum/contracts, by
 * signature, so that a revert names its reason. */
static const char *const chain_errors[] = {
	"NotAuthority()", "InsufficientBalance(uint256,uint256)",
	"InsufficientAllowance(uint256,uint256)", "AlreadyEmitted(uint256)",
	"PoolExhausted(uint256,uint256)", "NoOwners()", "JobExists(bytes32)",
	"NoSuchJob(bytes32)", "NotOpen(bytes32,uint8)", "NotSettler()",
	"OverBudget(uint256,uint256)", "DeadlineNotPassed(uint64)",
	"BadProof()", "AlreadyClaimed(uint256)", "TransferFailed()",
	"ZeroAmount()", NULL};

static const char *const job_state[] = {"none", "open", "settled",
	"refunded"};

typedef struct chain {
	eth_rpc *rpc;
	eth_key key;
	int has_key;
	unsigned char escrow[20];
	int has_escrow;
	eth_send_opt opt;
	rec_out *out;
} chain;

/* The exit status of a failed chain operation: 2 when the node could not
 * be reached, 1 when it refused (revert, funds, nonce, chain id). */
static void __attribute__((noreturn))
chain_fail(const char *what)
{
	int st = strstr(dml_errmsg(), "cannot reach the node") ?
	    DML_EXIT_USAGE : DML_EXIT_REJECT;
	if (what)
		dml_error_prefix("%s", what);
	dml_fail(st);
}

static void
chain_emit(chain *c, json_t *r)
{
	if (rec_out_write(c->out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
}

/* A job's id on chain: keccak256 of its CID string. */
static void
chain_job_id(const char *cid_s, unsigned char id[32])
{
	keccak256(id, cid_s, strlen(cid_s));
}

static json_t *
hexstr(const unsigned char *p, size_t n)
{
	char *s = eth_hex(p, n);
	json_t *j = json_string(s);

	free(s);
	return j;
}

static json_t *
addrstr(const unsigned char a[20])
{
	char s[43];

	eth_address_str(a, s);
	return json_string(s);
}

static json_t *
mpzstr(const mpz_t v)
{
	char *s = mpz_get_str(NULL, 10, v);
	json_t *j = json_string(s);

	free(s);
	return j;
}

static json_t *
chain_send(chain *c, const unsigned char *to, eth_abi *a, const char *what)
{
	json_t *rc;

	if (!c->has_key)
		dml_usage_error("%s needs --eth-key FILE", what);
	eth_abi_end(a);
	rc = eth_send(c->rpc, &c->key, to, a->p, a->n, &c->opt);
	eth_abi_free(a);
	if (!rc)
		chain_fail(what);
	return rc;
}

static void
chain_view(chain *c, const unsigned char to[20], eth_abi *a, unsigned char **r,
    size_t *n, const char *what)
{
	eth_abi_end(a);
	if (eth_call(c->rpc, to, a->p, a->n, r, n) < 0)
		chain_fail(what);
	eth_abi_free(a);
}

static uint64_t
gas_used(const json_t *receipt)
{
	uint64_t g = 0;

	eth_quantity_u64(json_object_get(receipt, "gasUsed"), &g);
	return g;
}

/* The on-chain state of a job: jobs(bytes32). */
typedef struct chain_job {
	unsigned char customer[20], root[32];
	int state;
	uint64_t deadline;
	mpz_t amount, unclaimed;
} chain_job;

static void
chain_job_get(chain *c, const unsigned char id[32], chain_job *j)
{
	eth_abi a;
	unsigned char *r;
	size_t n;
	mpz_t z;

	eth_abi_init(&a, "jobs(bytes32)", 1);
	eth_abi_word(&a, id);
	chain_view(c, c->escrow, &a, &r, &n, "jobs");
	mpz_inits(j->amount, j->unclaimed, z, NULL);
	if (eth_ret_address(r, n, 0, j->customer) < 0 ||
	    eth_ret_mpz(r, n, 1, z) < 0 || (j->deadline = mpz_get_ui(z),
	    eth_ret_mpz(r, n, 2, z)) < 0 || (j->state = (int)mpz_get_ui(z),
	    eth_ret_mpz(r, n, 3, j->amount)) < 0 ||
	    eth_ret_mpz(r, n, 4, j->unclaimed) < 0 || n < 192)
		dml_die(DML_EXIT_REJECT, "jobs(): %s (is %s a JobEscrow?)",
		    dml_errmsg(), "--escrow");
	memcpy(j->root, r + 160, 32);
	if (j->state > 3)
		j->state = 0;
	mpz_clear(z);
	free(r);
}

static void
chain_token(chain *c, unsigned char token[20])
{
	eth_abi a;
	unsigned char *r;
	size_t n;

	eth_abi_init(&a, "token()", 0);
	chain_view(c, c->escrow, &a, &r, &n, "token");
	if (eth_ret_address(r, n, 0, token) < 0)
		chain_fail("token()");
	free(r);
}

/* The address book: dml.eth.payee records, each signed by the identity
 * it maps; hex key -> address string. A payee named twice must name the
 * same address. */
static json_t *
address_book(const char *path)
{
	json_t *book = json_object(), *r;
	rec_in *in;
	int rc;

	if (!path)
		return book;
	if (!(in = rec_open(path)))
		dml_fail(DML_EXIT_USAGE);
	while ((rc = rec_next(in, &r)) > 0) {
		unsigned char pk[32], a[20];
		const char *addr, *old;
		char hex[65], norm[43];
		if (rec_check(in, r, "dml.eth.payee") < 0 ||
		    rec_get_str(in, r, "address", &addr) < 0 ||
		    rec_verify(r, in, pk) < 0)
			dml_fail(DML_EXIT_REJECT);
		if (eth_address_parse(addr, a) < 0)
			dml_die(DML_EXIT_REJECT, "%s:%ld: %s", path, rec_line(in),
			    dml_errmsg());
		key_hex(pk, 32, hex);
		eth_address_str(a, norm);
		old = json_string_value(json_object_get(book, hex));
		if (old && strcmp(old, norm) != 0)
			dml_die(DML_EXIT_REJECT, "%s:%ld: %s is already mapped to "
			    "%s", path, rec_line(in), hex, old);
		json_object_set_new(book, hex, json_string(norm));
		json_decref(r);
	}
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	rec_close(in);
	return book;
}

/* The leaves of a payout list: payees with an address, in the list's
 * order; what the others were to get goes back to the customer. */
static json_t *
chain_leaves(const settle_list *p, const json_t *book, mpz_t paid,
    mpz_t unmapped, merkle_tree *t)
{
	json_t *leaves = json_array();
	unsigned char (*lv)[32] = xmalloc((p->n + 1) * 32);
	size_t k = 0;

	mpz_set_ui(paid, 0);
	mpz_set_ui(unmapped, 0);
	for (size_t i = 0; i < p->n; i++) {
		const char *addr = json_string_value(json_object_get(book,
		    p->v[i].to));
		unsigned char a[20], role[32];
		json_t *o;
		if (!addr) {
			mpz_add(unmapped, unmapped, p->v[i].amount);
			continue;
		}
		eth_address_parse(addr, a);
		merkle_role(p->v[i].role, role);
		merkle_leaf(k, a, p->v[i].amount, role, lv[k]);
		o = json_object();
		json_object_set_new(o, "index", json_integer((json_int_t)k));
		json_object_set_new(o, "to", json_string(p->v[i].to));
		json_object_set_new(o, "address", json_string(addr));
		json_object_set_new(o, "role", json_string(p->v[i].role));
		json_object_set_new(o, "amount", mpzstr(p->v[i].amount));
		json_array_append_new(leaves, o);
		mpz_add(paid, paid, p->v[i].amount);
		k++;
	}
	merkle_build(t, (const unsigned char (*)[32])lv, k);
	free(lv);
	return leaves;
}

/* dml-settle --rpc: the same payouts as on the ledger, committed as one
 * Merkle root; the list itself goes to IPFS. */
static int
chain_settle(chain *c, const char *jobf, const char *storedf,
    const char *contribf, const char *bookf)
{
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], hex[65], cs[CID_MAXSTR];
	unsigned char id[32], root[32];
	settle_contrib sc;
	settle_terms t;
	settle_list p;
	chain_job cj;
	merkle_tree tree;
	json_t *book, *leaves, *rec, *rc, *logs;
	mpz_t refund, paid, unmapped;
	ipfs_store *st;
	char *line;
	size_t n;
	cid pc;
	dml_job j;
	eth_abi a;

	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	settle_terms_init(&t);
	if (settle_terms_from_job(&t, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	stored_cid(storedf, report);
	contributions(contribf, j.id, &sc, cid_contrib);
	book = address_book(bookf);
	chain_job_id(j.id, id);
	chain_job_get(c, id, &cj);
	if (cj.state == 0)
		dml_die(DML_EXIT_REJECT, "job %s has no escrow on chain "
		    "(dml-settle deposit)", j.id);
	if (cj.state == 3)
		dml_die(DML_EXIT_REJECT, "job %s is already refunded", j.id);
	mpz_inits(refund, paid, unmapped, NULL);
	settle_list_init(&p);
	if (settle_compute(&t, &sc, cj.amount, &p, refund) < 0)
		dml_die(DML_EXIT_REJECT, "job %s: %s", j.id, dml_errmsg());
	leaves = chain_leaves(&p, book, paid, unmapped, &tree);
	mpz_add(refund, refund, unmapped);
	merkle_root(&tree, root);
	merkle_free(&tree);

	/* the payout list on chain: what claims are proven against */
	rec = rec_new("dml.eth.payouts");
	json_object_set_new(rec, "job", json_string(j.id));
	json_object_set_new(rec, "job_id", hexstr(id, 32));
	json_object_set_new(rec, "report", json_string(report));
	json_object_set_new(rec, "contributions", json_string(cid_contrib));
	key_hex(j.customer, 32, hex);
	json_object_set_new(rec, "customer", json_string(hex));
	json_object_set_new(rec, "escrow_contract", addrstr(c->escrow));
	json_object_set_new(rec, "escrow", mpzstr(cj.amount));
	json_object_set_new(rec, "paid", mpzstr(paid));
	json_object_set_new(rec, "refund", mpzstr(refund));
	json_object_set_new(rec, "unmapped", mpzstr(unmapped));
	json_object_set_new(rec, "root", hexstr(root, 32));
	json_object_set_new(rec, "leaves", leaves);
	if (!(line = canon_dump(rec, NULL, NULL, &n)))
		dml_fail(DML_EXIT_USAGE);
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	if (!(st = ipfs_open(NULL, NULL)) ||
	    ipfs_add_bytes(st, line, n + 1, 0, &pc) < 0)
		dml_die(DML_EXIT_USAGE, "storing the payout list: %s",
		    dml_errmsg());
	ipfs_close(st);
	free(line);
	cid_str(&pc, cs);
	chain_emit(c, json_incref(rec));

	if (cj.state == 2) {
		/* a rerun after a crash, or a second settle: never twice */
		if (memcmp(cj.root, root, 32) != 0)
			dml_die(DML_EXIT_REJECT, "job %s is already settled on "
			    "chain with another root %s", j.id,
			    json_string_value(hexstr(cj.root, 32)));
		rc = rec_new("dml.eth.settled");
		json_object_set_new(rc, "job", json_string(j.id));
		json_object_set_new(rc, "root", hexstr(root, 32));
		json_object_set_new(rc, "payouts", json_string(cs));
		json_object_set_new(rc, "already", json_true());
		chain_emit(c, rc);
		dml_warn("job %s was already settled with these payouts: "
		    "nothing sent", j.id);
		goto done;
	}
	eth_abi_init(&a, "settle(bytes32,bytes32,uint256,string)", 4);
	eth_abi_word(&a, id);
	eth_abi_word(&a, root);
	eth_abi_mpz(&a, paid);
	eth_abi_string(&a, cs);
	rc = chain_send(c, c->escrow, &a, "settle");
	logs = eth_receipt_logs(rc,
	    "Settled(bytes32,bytes32,uint256,uint256,string)");
	{
		json_t *lg = json_array_get(logs, 0);
		const char *t1 = json_string_value(json_array_get(
		    json_object_get(lg, "topics"), 1));
		const char *d = json_string_value(json_object_get(lg, "data"));
		char *want = eth_hex(id, 32), *wroot = eth_hex(root, 32);
		if (json_array_size(logs) != 1 || !t1 || strcmp(t1, want) ||
		    !d || strncmp(d + 2, wroot + 2, 64))
			dml_die(DML_EXIT_REJECT, "settle: the receipt has no "
			    "Settled event for job %s with root %s", j.id, wroot);
		free(want);
		free(wroot);
	}
	json_decref(logs);
	{
		json_t *r = rec_new("dml.eth.settled");
		json_object_set_new(r, "job", json_string(j.id));
		json_object_set_new(r, "root", hexstr(root, 32));
		json_object_set_new(r, "payouts", json_string(cs));
		json_object_set_new(r, "paid", mpzstr(paid));
		json_object_set_new(r, "refund", mpzstr(refund));
		json_object_set_new(r, "tx", json_incref(json_object_get(rc,
		    "transactionHash")));
		json_object_set_new(r, "gas_used", json_integer((json_int_t)
		    gas_used(rc)));
		chain_emit(c, r);
	}
	json_decref(rc);
done:
	json_decref(rec);
	json_decref(book);
	settle_list_clear(&p);
	settle_contrib_clear(&sc);
	settle_terms_clear(&t);
	mpz_clears(refund, paid, unmapped, cj.amount, cj.unclaimed, NULL);
	job_free(&j);
	return 0;
}

/* dml-settle claim: the proof of one leaf of a dml.eth.payouts list, and
 * its claim. */
static int
chain_claim(chain *c, const char *payf, long index, const char *who,
    const char *role, int proof_only, int force)
{
	unsigned char (*lv)[32], id[32], root[32], proof[64][32], a[20], r32[32];
	json_t *rec = NULL, *x, *leaves, *leaf = NULL, *pr, *rc;
	const char *s;
	rec_in *in;
	size_t n, np, i;
	merkle_tree t;
	chain_job cj;
	eth_abi abi;
	mpz_t amt;
	int got;

	if (!(in = rec_open(payf)))
		dml_fail(DML_EXIT_USAGE);
	rec_set_copy(in, 1);	/* the record outlives the reader */
	while ((got = rec_next(in, &x)) > 0) {
		s = json_string_value(json_object_get(x, "type"));
		if (s && strcmp(s, "dml.eth.payouts") == 0) {
			rec = x;
			break;
		}
		json_decref(x);
	}
	if (got < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!rec)
		dml_die(DML_EXIT_REJECT, "%s: no dml.eth.payouts record", payf);
	rec_close(in);
	leaves = json_object_get(rec, "leaves");
	if (!json_is_array(leaves) || eth_unhex(json_string_value(
	    json_object_get(rec, "job_id")) ? json_string_value(
	    json_object_get(rec, "job_id")) : "", id, 32) < 0 ||
	    eth_unhex(json_string_value(json_object_get(rec, "root")) ?
	    json_string_value(json_object_get(rec, "root")) : "", root, 32) < 0)
		dml_die(DML_EXIT_REJECT, "%s: malformed dml.eth.payouts", payf);
	n = json_array_size(leaves);
	lv = xmalloc((n + 1) * 32);
	mpz_init(amt);
	json_array_foreach(leaves, i, x) {
		const char *ad = json_string_value(json_object_get(x, "address"));
		const char *ro = json_string_value(json_object_get(x, "role"));
		const char *am = json_string_value(json_object_get(x, "amount"));
		if (!ad || !ro || !am || eth_address_parse(ad, a) < 0 ||
		    merkle_role(ro, r32) < 0 || mpz_set_str(amt, am, 10) < 0 ||
		    json_integer_value(json_object_get(x, "index")) !=
		    (json_int_t)i)
			dml_die(DML_EXIT_REJECT, "%s: leaf %zu is malformed",
			    payf, i);
		merkle_leaf(i, a, amt, r32, lv[i]);
		if ((index >= 0 && (size_t)index == i) || (index < 0 && who &&
		    strcasecmp(ad, who) == 0 && (!role || !strcmp(ro, role)))) {
			if (leaf)
				dml_die(DML_EXIT_REJECT, "%s: %s has more than one "
				    "leaf: give --index or --role", payf, who);
			leaf = x;
		}
	}
	if (!leaf)
		dml_die(DML_EXIT_REJECT, "%s: no such leaf", payf);
	merkle_build(&t, (const unsigned char (*)[32])lv, n);
	merkle_root(&t, r32);
	if (memcmp(r32, root, 32) != 0 && !force)
		dml_die(DML_EXIT_REJECT, "%s: the leaves do not give the root "
		    "the list names", payf);
	i = (size_t)json_integer_value(json_object_get(leaf, "index"));
	merkle_proof(&t, i, proof, &np);
	merkle_free(&t);
	eth_address_parse(json_string_value(json_object_get(leaf, "address")),
	    a);
	mpz_set_str(amt, json_string_value(json_object_get(leaf, "amount")), 10);
	merkle_role(json_string_value(json_object_get(leaf, "role")), r32);

	x = rec_new("dml.eth.proof");
	json_object_set(x, "job", json_object_get(rec, "job"));
	json_object_set_new(x, "index", json_integer((json_int_t)i));
	json_object_set(x, "address", json_object_get(leaf, "address"));
	json_object_set(x, "role", json_object_get(leaf, "role"));
	json_object_set(x, "amount", json_object_get(leaf, "amount"));
	json_object_set_new(x, "leaf", hexstr(lv[i], 32));
	json_object_set(x, "root", json_object_get(rec, "root"));
	pr = json_array();
	for (size_t k = 0; k < np; k++)
		json_array_append_new(pr, hexstr(proof[k], 32));
	json_object_set_new(x, "proof", pr);
	chain_emit(c, x);
	free(lv);
	if (proof_only)
		goto out;
	chain_job_get(c, id, &cj);
	if (!force) {
		if (cj.state != 2)
			dml_die(DML_EXIT_REJECT, "job %s is %s on chain, not "
			    "settled", json_string_value(json_object_get(rec,
			    "job")), job_state[cj.state]);
		if (memcmp(cj.root, root, 32) != 0)
			dml_die(DML_EXIT_REJECT, "the root on chain is not the "
			    "root of %s", payf);
		eth_abi_init(&abi, "claimed(bytes32,uint256)", 2);
		eth_abi_word(&abi, id);
		eth_abi_u64(&abi, i);
		{
			unsigned char *r;
			size_t rn;
			mpz_t z;
			mpz_init(z);
			chain_view(c, c->escrow, &abi, &r, &rn, "claimed");
			if (eth_ret_mpz(r, rn, 0, z) == 0 && mpz_sgn(z))
				dml_die(DML_EXIT_REJECT, "leaf %zu of job %s is "
				    "already claimed", i, json_string_value(
				    json_object_get(rec, "job")));
			free(r);
			mpz_clear(z);
		}
	}
	mpz_clears(cj.amount, cj.unclaimed, NULL);
	eth_abi_init(&abi, "claim(bytes32,uint256,address,uint256,bytes32,"
	    "bytes32[])", 6);
	eth_abi_word(&abi, id);
	eth_abi_u64(&abi, i);
	eth_abi_address(&abi, a);
	eth_abi_mpz(&abi, amt);
	eth_abi_word(&abi, r32);
	eth_abi_words(&abi, (const unsigned char (*)[32])proof, np);
	rc = chain_send(c, c->escrow, &abi, "claim");
	{
		json_t *logs = eth_receipt_logs(rc,
		    "Claimed(bytes32,uint256,address,uint256,bytes32)");
		json_t *r = rec_new("dml.eth.claimed");
		if (json_array_size(logs) != 1)
			dml_die(DML_EXIT_REJECT, "claim: no Claimed event in the "
			    "receipt");
		json_decref(logs);
		json_object_set(r, "job", json_object_get(rec, "job"));
		json_object_set_new(r, "index", json_integer((json_int_t)i));
		json_object_set_new(r, "address", addrstr(a));
		json_object_set_new(r, "amount", mpzstr(amt));
		json_object_set(r, "tx", json_object_get(rc, "transactionHash"));
		json_object_set_new(r, "gas_used", json_integer((json_int_t)
		    gas_used(rc)));
		chain_emit(c, r);
	}
	json_decref(rc);
out:
	mpz_clear(amt);
	json_decref(rec);
	return 0;
}

static const unsigned char *
contract_code(const char *dir, const char *name, size_t *n)
{
	char *path = xasprintf("%s/%s.bin", dir, name), *buf;
	unsigned char *code;
	size_t len;

	if (dml_read_file(path, &buf, &len) < 0)
		dml_die(DML_EXIT_USAGE, "%s (run contrib/ethereum/compile)",
		    dml_errmsg());
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	if (len % 2 || !len)
		dml_die(DML_EXIT_USAGE, "%s: not hex bytecode", path);
	code = xmalloc(len / 2);
	if (eth_unhex(buf, code, len / 2) < 0)
		dml_die(DML_EXIT_USAGE, "%s: %s", path, dml_errmsg());
	*n = len / 2;
	free(buf);
	free(path);
	return code;
}

/* a contract creation: code + constructor arguments */
static json_t *
chain_create(chain *c, const char *dir, const char *name, eth_abi *args,
    unsigned char addr[20])
{
	size_t n;
	const unsigned char *code = contract_code(dir, name, &n);
	unsigned char *data;
	json_t *rc;

	eth_abi_end(args);
	data = xmalloc(n + args->n);
	memcpy(data, code, n);
	memcpy(data + n, args->p, args->n);
	if (!c->has_key)
		dml_usage_error("deploy needs --eth-key FILE");
	rc = eth_send(c->rpc, &c->key, NULL, data, n + args->n, &c->opt);
	if (!rc)
		chain_fail(name);
	if (eth_address_parse(json_string_value(json_object_get(rc,
	    "contractAddress")) ? json_string_value(json_object_get(rc,
	    "contractAddress")) : "", addr) < 0)
		dml_die(DML_EXIT_REJECT, "%s: no contract address in the receipt",
		    name);
	free(data);
	free((void *)code);
	eth_abi_free(args);
	return rc;
}

static int
chain_deploy(chain *c, const char *dir, const mpz_t supply,
    const mpz_t growth, const mpz_t bounty, const char *settler)
{
	unsigned char token[20], escrow[20], st[20];
	json_t *r1, *r2, *r;
	eth_abi a;

	if (!dir)
		dir = getenv("DML_ETH_CONTRACTS");
	if (!dir)
		dml_usage_error("deploy needs --contracts DIR (the output of "
		    "contrib/ethereum/compile)");
	if (!c->has_key)
		dml_usage_error("deploy needs --eth-key FILE");
	memcpy(st, c->key.addr, 20);
	if (settler && eth_address_parse(settler, st) < 0)
		dml_usage_error("--settler: %s", dml_errmsg());
	eth_abi_init(&a, NULL, 3);
	eth_abi_mpz(&a, supply);
	eth_abi_mpz(&a, growth);
	eth_abi_mpz(&a, bounty);
	r1 = chain_create(c, dir, "DMLToken", &a, token);
	eth_abi_init(&a, NULL, 2);
	eth_abi_address(&a, token);
	eth_abi_address(&a, st);
	r2 = chain_create(c, dir, "JobEscrow", &a, escrow);
	r = rec_new("dml.eth.deployment");
	json_object_set_new(r, "chain_id", json_integer((json_int_t)
	    eth_chain_id(c->rpc)));
	json_object_set_new(r, "token", addrstr(token));
	json_object_set_new(r, "escrow", addrstr(escrow));
	json_object_set_new(r, "settler", addrstr(st));
	json_object_set_new(r, "authority", addrstr(c->key.addr));
	json_object_set_new(r, "gas_used", json_integer((json_int_t)
	    (gas_used(r1) + gas_used(r2))));
	chain_emit(c, r);
	json_decref(r1);
	json_decref(r2);
	return 0;
}

/* approve + deposit the job's budget (or amount) against its id */
static int
chain_deposit(chain *c, const char *jobf, const char *amount)
{
	unsigned char token[20], id[32];
	const char *budget;
	long long deadline;
	json_t *rc, *r;
	dml_job j;
	eth_abi a;
	mpz_t amt;

	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	budget = amount ? amount : json_string_value(json_object_get(
	    json_object_get(j.rec, "reward"), "budget"));
	if (!budget || mpz_init_set_str(amt, budget, 10) < 0 ||
	    mpz_sgn(amt) <= 0)
		dml_die(DML_EXIT_REJECT, "%s: no budget to deposit", jobf);
	if (ledger_time_parse(json_string_value(json_object_get(j.rec,
	    "deadline")) ? json_string_value(json_object_get(j.rec,
	    "deadline")) : "", &deadline) < 0)
		dml_die(DML_EXIT_REJECT, "%s: bad deadline: %s", jobf,
		    dml_errmsg());
	chain_job_id(j.id, id);
	chain_token(c, token);
	eth_abi_init(&a, "approve(address,uint256)", 2);
	eth_abi_address(&a, c->escrow);
	eth_abi_mpz(&a, amt);
	json_decref(chain_send(c, token, &a, "approve"));
	eth_abi_init(&a, "deposit(bytes32,uint256,uint64)", 3);
	eth_abi_word(&a, id);
	eth_abi_mpz(&a, amt);
	eth_abi_u64(&a, (uint64_t)deadline);
	rc = chain_send(c, c->escrow, &a, "deposit");
	r = rec_new("dml.eth.deposited");
	json_object_set_new(r, "job", json_string(j.id));
	json_object_set_new(r, "job_id", hexstr(id, 32));
	json_object_set_new(r, "amount", mpzstr(amt));
	json_object_set_new(r, "deadline", json_integer(deadline));
	json_object_set(r, "tx", json_object_get(rc, "transactionHash"));
	json_object_set_new(r, "gas_used", json_integer((json_int_t)
	    gas_used(rc)));
	chain_emit(c, r);
	json_decref(rc);
	mpz_clear(amt);
	job_free(&j);
	return 0;
}

static int
chain_transfer(chain *c, const char *to, const char *amount)
{
	unsigned char token[20], a[20];
	json_t *rc, *r;
	eth_abi abi;
	mpz_t amt;

	if (!to || !amount)
		dml_usage_error("transfer needs --to ADDRESS and --amount N");
	if (eth_address_parse(to, a) < 0)
		dml_usage_error("--to: %s", dml_errmsg());
	if (mpz_init_set_str(amt, amount, 10) < 0 || mpz_sgn(amt) < 0)
		dml_usage_error("--amount: not a token amount");
	chain_token(c, token);
	eth_abi_init(&abi, "transfer(address,uint256)", 2);
	eth_abi_address(&abi, a);
	eth_abi_mpz(&abi, amt);
	rc = chain_send(c, token, &abi, "transfer");
	r = rec_new("dml.eth.transferred");
	json_object_set_new(r, "to", addrstr(a));
	json_object_set_new(r, "amount", mpzstr(amt));
	json_object_set(r, "tx", json_object_get(rc, "transactionHash"));
	chain_emit(c, r);
	json_decref(rc);
	mpz_clear(amt);
	return 0;
}

/* balance ADDRESS...: token balances through eth_call */
static int
chain_balance(chain *c, char **addrs, int n)
{
	unsigned char token[20], a[20], *r;
	size_t rn;
	eth_abi abi;
	mpz_t z;

	chain_token(c, token);
	mpz_init(z);
	for (int i = 0; i < n; i++) {
		json_t *rec;
		if (eth_address_parse(addrs[i], a) < 0)
			dml_die(DML_EXIT_REJECT, "%s", dml_errmsg());
		eth_abi_init(&abi, "balanceOf(address)", 1);
		eth_abi_address(&abi, a);
		chain_view(c, token, &abi, &r, &rn, "balanceOf");
		if (eth_ret_mpz(r, rn, 0, z) < 0)
			chain_fail("balanceOf");
		free(r);
		rec = rec_new("dml.eth.balance");
		json_object_set_new(rec, "address", addrstr(a));
		json_object_set_new(rec, "amount", mpzstr(z));
		chain_emit(c, rec);
	}
	mpz_clear(z);
	return 0;
}

/* status --job FILE: the job's escrow on chain */
static int
chain_status(chain *c, const char *jobf)
{
	unsigned char id[32];
	chain_job cj;
	json_t *r;
	dml_job j;

	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	chain_job_id(j.id, id);
	chain_job_get(c, id, &cj);
	r = rec_new("dml.eth.job");
	json_object_set_new(r, "job", json_string(j.id));
	json_object_set_new(r, "job_id", hexstr(id, 32));
	json_object_set_new(r, "state", json_string(job_state[cj.state]));
	json_object_set_new(r, "amount", mpzstr(cj.amount));
	json_object_set_new(r, "unclaimed", mpzstr(cj.unclaimed));
	json_object_set_new(r, "root", hexstr(cj.root, 32));
	json_object_set_new(r, "customer", addrstr(cj.customer));
	json_object_set_new(r, "deadline", json_integer((json_int_t)
	    cj.deadline));
	chain_emit(c, r);
	mpz_clears(cj.amount, cj.unclaimed, NULL);
	job_free(&j);
	return 0;
}

/* refund --job FILE: the whole escrow back after the deadline */
static int
chain_refund(chain *c, const char *jobf)
{
	unsigned char id[32];
	json_t *rc, *r;
	dml_job j;
	eth_abi a;

	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	chain_job_id(j.id, id);
	eth_abi_init(&a, "refund(bytes32)", 1);
	eth_abi_word(&a, id);
	rc = chain_send(c, c->escrow, &a, "refund");
	r = rec_new("dml.eth.refunded");
	json_object_set_new(r, "job", json_string(j.id));
	json_object_set(r, "tx", json_object_get(rc, "transactionHash"));
	chain_emit(c, r);
	json_decref(rc);
	job_free(&j);
	return 0;
}

/* One option table: main reads the ledger options, chain_main the chain
 * ones, from the same command line. */
enum { O_TIME = 256, O_VERSION, O_CHAIN, O_NONCE, O_TIMEOUT,
	O_PAYOUTS, O_INDEX, O_ADDRESS, O_ROLE, O_PROOF, O_FORCE,
	O_CONTRACTS, O_SUPPLY, O_GROWTH, O_BOUNTY, O_SETTLER, O_TO,
	O_AMOUNT };
static const struct option opts[] = {
	{"ledger", required_argument, 0, 'L'},
	{"key", required_argument, 0, 'k'},
	{"job", required_argument, 0, 'j'},
	{"stored", required_argument, 0, 's'},
	{"contributions", required_argument, 0, 'c'},
	{"time", required_argument, 0, O_TIME},
	{"dry-run", no_argument, 0, 'n'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{"rpc", required_argument, 0, 'r'},
	{"escrow", required_argument, 0, 'e'},
	{"eth-key", required_argument, 0, 'K'},
	{"payees", required_argument, 0, 'P'},
	{"chain-id", required_argument, 0, O_CHAIN},
	{"nonce", required_argument, 0, O_NONCE},
	{"timeout", required_argument, 0, O_TIMEOUT},
	{"payouts", required_argument, 0, O_PAYOUTS},
	{"index", required_argument, 0, O_INDEX},
	{"address", required_argument, 0, O_ADDRESS},
	{"role", required_argument, 0, O_ROLE},
	{"proof-only", no_argument, 0, O_PROOF},
	{"force", no_argument, 0, O_FORCE},
	{"contracts", required_argument, 0, O_CONTRACTS},
	{"supply", required_argument, 0, O_SUPPLY},
	{"growth-pool", required_argument, 0, O_GROWTH},
	{"bounty-pool", required_argument, 0, O_BOUNTY},
	{"settler", required_argument, 0, O_SETTLER},
	{"to", required_argument, 0, O_TO},
	{"amount", required_argument, 0, O_AMOUNT},
	{0, 0, 0, 0}};

static int chain_main(int argc, char **argv, const char *jobf,
    const char *storedf, const char *contribf);

int
main(int argc, char **argv)
{
	const char *path = NULL, *keyf = NULL, *jobf = NULL, *storedf = NULL,
		   *contribf = NULL, *when = NULL;
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], hex[65];
	static const char *state[] = {"open", "settled", "refunded"};
	static char *deflt;	/* the default ledger path, kept to the end */
	int ch, dry = 0, rc, chain_opts = 0, rpc_env = 1;
	const char *rpc = getenv("DML_ETH_RPC");
	settle_contrib c;
	settle_terms t;
	settle_list p;
	ledger_escrow e;
	ledger *l;
	json_t *rec, *body;
	dml_job j;
	dml_key k;
	mpz_t escrow, refund;
	rec_out *out;

	dml_setprog(argv[0]);
	/* chain options are read again by chain_main */
	while ((ch = getopt_long(argc, argv, "L:k:j:s:c:nhr:e:K:P:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r': case 'e': case 'K': case 'P': case O_CHAIN:
		case O_NONCE: case O_TIMEOUT: case O_PAYOUTS: case O_INDEX:
		case O_ADDRESS: case O_ROLE: case O_PROOF: case O_FORCE:
		case O_CONTRACTS: case O_SUPPLY: case O_GROWTH: case O_BOUNTY:
		case O_SETTLER: case O_TO: case O_AMOUNT:
			chain_opts = 1;
			if (ch == 'r')
				rpc = optarg, rpc_env = 0;
			break;
		case 'L': path = optarg; break;
		case 'k': keyf = optarg; break;
		case 'j': jobf = optarg; break;
		case 's': storedf = optarg; break;
		case 'c': contribf = optarg; break;
		case O_TIME: when = optarg; break;
		case 'n': dry = 1; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	/* $DML_ETH_RPC alone does not take a ledger settle to the chain */
	if (rpc && *rpc && rpc_env && (path || keyf || dry || when))
		rpc = NULL;
	if (rpc && *rpc) {
		if (path || keyf || dry || when)
			dml_usage_error("-L, -k, --time and --dry-run are for the "
			    "ledger, not --rpc");
		return chain_main(argc, argv, jobf, storedf, contribf);
	}
	if (chain_opts)
		dml_usage_error("chain options need --rpc URL");
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!jobf || !storedf || !contribf || (!keyf && !dry))
		dml_usage_error("-k KEY, --job, --stored and --contributions are "
		    "required");
	if (when) {
		long long tt;
		if (ledger_time_parse(when, &tt) < 0)
			dml_usage_error("--time: %s", dml_errmsg());
	}
	if (!path)
		path = deflt = ledger_default_path();
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);

	/* everything that can be read without the lock is read first */
	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	settle_terms_init(&t);
	if (settle_terms_from_job(&t, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	stored_cid(storedf, report);
	contributions(contribf, j.id, &c, cid_contrib);
	if (keyf && key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);

	rc = ledger_open(&l, path, dry ? 0 : LEDGER_WRITE, NULL, NULL);
	if (rc < 0)
		dml_fail(exit_of(rc));
	if (ledger_escrow_get(l, j.id, &e) < 0)
		dml_die(DML_EXIT_REJECT, "job %s has no escrow in %s", j.id,
		    path);
	if (e.state != ESCROW_OPEN)
		dml_die(DML_EXIT_REJECT, "job %s is already %s", j.id,
		    state[e.state]);
	mpz_init_set(escrow, e.amount);
	mpz_init(refund);
	settle_list_init(&p);
	if (settle_compute(&t, &c, escrow, &p, refund) < 0)
		dml_die(DML_EXIT_REJECT, "job %s: %s", j.id, dml_errmsg());
	key_hex(j.customer, 32, hex);
	rec = settle_record(j.id, report, hex, escrow, &p, refund, c.ndevices);
	if (!(out = rec_out_open(NULL)) || rec_out_write(out, rec, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(rec);
	if (!dry) {
		json_t *r = rec_new("dml.appended");
		body = ledger_settle_body(j.id, report, cid_contrib, hex, &p,
		    refund);
		settle_list_clear(&p);
		settle_contrib_clear(&c);
		rc = ledger_submit(l, body, &k, when);
		key_free(&k);
		if (rc < 0) {
			rec_out_abort(out);
			dml_fail(exit_of(rc));
		}
		ledger_head(l, hex);
		json_object_set_new(r, "op", json_string("settle"));
		json_object_set_new(r, "seq", json_integer(ledger_entries(l) -
		    1));
		json_object_set_new(r, "hash", json_string(hex));
		json_decref(body);
		if (rec_out_write(out, r, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
		json_decref(r);
	} else {
		settle_list_clear(&p);
		settle_contrib_clear(&c);
		if (keyf)
			key_free(&k);
	}
	ledger_close(l);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	mpz_clears(escrow, refund, NULL);
	settle_terms_clear(&t);
	job_free(&j);
	free(deflt);
	dml_close_stdout();
	return 0;
}

static int
chain_main(int argc, char **argv, const char *jobf, const char *storedf,
    const char *contribf)
{
	const char *rpc = getenv("DML_ETH_RPC"), *escrow = getenv(
	    "DML_ETH_ESCROW"), *keyf = NULL, *bookf = NULL, *payf = NULL,
		   *who = NULL, *role = NULL, *dir = NULL, *settler = NULL,
		   *to = NULL, *amount = NULL, *cmd;
	long idx = -1, v;
	int ch, proof_only = 0, force = 0, rc;
	mpz_t supply, growth, bounty;
	chain c;

	memset(&c, 0, sizeof c);
	c.opt.nonce = -1;
	mpz_init_set_ui(supply, 0);
	mpz_init_set_ui(growth, 0);
	mpz_init_set_ui(bounty, 0);
	optind = 0;	/* glibc: start over */
	while ((ch = getopt_long(argc, argv, "L:k:j:s:c:nhr:e:K:P:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r': rpc = optarg; break;
		case 'e': escrow = optarg; break;
		case 'K': keyf = optarg; break;
		case 'P': bookf = optarg; break;
		case O_CHAIN:
			if (dml_parse_long(optarg, 1, 0x7fffffffL, &v) < 0)
				dml_usage_error("--chain-id: %s", dml_errmsg());
			c.opt.chain_id = (uint64_t)v;
			break;
		case O_NONCE:
			if (dml_parse_long(optarg, 0, 0x7fffffffL, &v) < 0)
				dml_usage_error("--nonce: %s", dml_errmsg());
			c.opt.nonce = v;
			break;
		case O_TIMEOUT:
			if (dml_parse_long(optarg, 1, 86400, &v) < 0)
				dml_usage_error("--timeout: %s", dml_errmsg());
			c.opt.timeout = (double)v;
			break;
		case O_PAYOUTS: payf = optarg; break;
		case O_INDEX:
			if (dml_parse_long(optarg, 0, 0x7fffffffL, &idx) < 0)
				dml_usage_error("--index: %s", dml_errmsg());
			break;
		case O_ADDRESS: who = optarg; break;
		case O_ROLE: role = optarg; break;
		case O_PROOF: proof_only = 1; break;
		case O_FORCE: force = 1; break;
		case O_CONTRACTS: dir = optarg; break;
		case O_SUPPLY: case O_GROWTH: case O_BOUNTY:
			if (mpz_set_str(ch == O_SUPPLY ? supply : ch == O_GROWTH ?
			    growth : bounty, optarg, 10) < 0)
				dml_usage_error("--supply, --growth-pool, "
				    "--bounty-pool: token amounts");
			break;
		case O_SETTLER: settler = optarg; break;
		case O_TO: to = optarg; break;
		case O_AMOUNT: amount = optarg; break;
		default: break;		/* checked by main */
		}
	}
	cmd = optind < argc ? argv[optind++] : "settle";
	if (strcmp(cmd, "balance") != 0 && optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!(c.rpc = eth_rpc_open(rpc)))
		dml_usage_error("--rpc: %s", dml_errmsg());
	eth_rpc_errors(c.rpc, chain_errors);
	if (escrow) {
		if (eth_address_parse(escrow, c.escrow) < 0)
			dml_usage_error("--escrow: %s", dml_errmsg());
		c.has_escrow = 1;
	}
	if (strcmp(cmd, "deploy") != 0 && !c.has_escrow)
		dml_usage_error("%s needs --escrow ADDR (or $DML_ETH_ESCROW)",
		    cmd);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (keyf) {
		if (eth_key_load(keyf, &c.key) < 0)
			dml_fail(DML_EXIT_USAGE);
		c.has_key = 1;
	}
	if (!(c.out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	if (strcmp(cmd, "settle") == 0) {
		if (!jobf || !storedf || !contribf || !keyf)
			dml_usage_error("--eth-key, --job, --stored and "
			    "--contributions are required");
		rc = chain_settle(&c, jobf, storedf, contribf, bookf);
	} else if (strcmp(cmd, "claim") == 0) {
		if (!payf || (idx < 0 && !who))
			dml_usage_error("claim needs --payouts FILE and --index N "
			    "or --address ADDR");
		if (!proof_only && !keyf)
			dml_usage_error("claim needs --eth-key FILE (or "
			    "--proof-only)");
		rc = chain_claim(&c, payf, idx, who, role, proof_only, force);
	} else if (strcmp(cmd, "deploy") == 0)
		rc = chain_deploy(&c, dir, supply, growth, bounty, settler);
	else if (strcmp(cmd, "deposit") == 0 || strcmp(cmd, "status") == 0 ||
	    strcmp(cmd, "refund") == 0) {
		if (!jobf)
			dml_usage_error("%s needs --job FILE", cmd);
		rc = cmd[0] == 'd' ? chain_deposit(&c, jobf, amount) :
		    cmd[0] == 's' ? chain_status(&c, jobf) :
		    chain_refund(&c, jobf);
	} else if (strcmp(cmd, "transfer") == 0)
		rc = chain_transfer(&c, to, amount);
	else if (strcmp(cmd, "balance") == 0)
		rc = chain_balance(&c, argv + optind, argc - optind);
	else
		dml_usage_error("unknown command '%s'", cmd);
	if (rec_out_commit(c.out) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (c.has_key)
		eth_key_free(&c.key);
	eth_rpc_close(c.rpc);
	mpz_clears(supply, growth, bounty, NULL);
	dml_close_stdout();
	return rc;
}
