/* chain: the DML contracts on an Ethereum node (see chain.h). */
#include "chain.h"
#include "cid.h"
#include "ipfs.h"
#include "job.h"
#include "keccak.h"
#include "ledger.h"
#include "market.h"
#include "merkle.h"
#include "sign.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Custom errors of the contracts in contrib/ethereum/contracts, by
 * signature, so that a revert names its reason. */
static const char *const chain_errors[] = {
	"NotAuthority()", "InsufficientBalance(uint256,uint256)",
	"InsufficientAllowance(uint256,uint256)",
	"EpochNotAfter(uint256,uint256)", "NothingEmitted(uint256)",
	"NothingPaid(uint256,uint256)", "OwnersNotSorted(uint256)",
	"PoolExhausted(uint256,uint256)", "NoOwners()", "JobExists(bytes32)",
	"NoSuchJob(bytes32)", "NotOpen(bytes32,uint8)", "NotSettler()",
	"OverBudget(uint256,uint256)", "DeadlineNotPassed(uint64)",
	"BadProof()", "AlreadyClaimed(uint256)", "TransferFailed()",
	"ZeroAmount()", "DeadlineTooFar(uint64)", "ClaimPeriodOver(uint64)",
	"ClaimPeriodNotOver(uint64)", "LicenseUsed(bytes32,bytes32)", NULL};

static const char *const state_names[CHAIN_NSTATES] = {"none", "open",
	"settled", "refunded", "swept"};

const char *
chain_state_name(int state)
{
	return state >= 0 && state < CHAIN_NSTATES ? state_names[state] : "none";
}

void
chain_init(chain *c)
{
	memset(c, 0, sizeof *c);
	c->opt.nonce = -1;
}

int
chain_connect(chain *c, const char *url)
{
	if (!(c->rpc = eth_rpc_open(url)))
		return -1;
	eth_rpc_errors(c->rpc, chain_errors);
	return 0;
}

void
chain_close(chain *c)
{
	if (c->has_key)
		eth_key_free(&c->key);
	c->has_key = 0;
	if (c->rpc)
		eth_rpc_close(c->rpc);
	c->rpc = NULL;
}

/* A failed eth operation: CHAIN_ESYS when the node could not be reached,
 * CHAIN_REJECT when it refused (revert, funds, nonce, chain id). */
static int
fail(const char *what)
{
	int st = strstr(dml_errmsg(), "cannot reach the node") ? CHAIN_ESYS :
	    CHAIN_REJECT;

	if (what)
		dml_error_prefix("%s", what);
	return st;
}

static int
emit(chain *c, json_t *r)
{
	int rc = rec_out_write(c->out, r, NULL) < 0 ? CHAIN_ESYS : 0;

	json_decref(r);
	return rc;
}

void
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

/* Sign, send, wait: *rc the receipt. Frees a. */
static int
send_tx(chain *c, const unsigned char *to, eth_abi *a, const char *what,
    json_t **rc)
{
	if (!c->has_key) {
		eth_abi_free(a);
		dml_error("%s needs --eth-key FILE", what);
		return CHAIN_ESYS;
	}
	eth_abi_end(a);
	*rc = eth_send(c->rpc, &c->key, to, a->p, a->n, &c->opt);
	eth_abi_free(a);
	return *rc ? 0 : fail(what);
}

/* eth_call: *r (caller frees) the returned bytes. Frees a. */
static int
view(chain *c, const unsigned char to[20], eth_abi *a, unsigned char **r,
    size_t *n, const char *what)
{
	int rc;

	eth_abi_end(a);
	rc = eth_call(c->rpc, to, a->p, a->n, r, n) < 0 ? fail(what) : 0;
	eth_abi_free(a);
	return rc;
}

static uint64_t
gas_used(const json_t *receipt)
{
	uint64_t g = 0;

	eth_quantity_u64(json_object_get(receipt, "gasUsed"), &g);
	return g;
}

static void
set_tx(json_t *r, const json_t *receipt, int gas)
{
	json_object_set(r, "tx", json_object_get(receipt, "transactionHash"));
	if (gas)
		json_object_set_new(r, "gas_used", json_integer((json_int_t)
		    gas_used(receipt)));
}

/* emit a record of a mined transaction: its hash and gas. */
static int
emit_tx(chain *c, json_t *r, const json_t *receipt)
{
	set_tx(r, receipt, 1);
	return emit(c, r);
}

int
chain_job_get(chain *c, const unsigned char id[32], chain_job *j)
{
	eth_abi a;
	unsigned char *r;
	size_t n;
	mpz_t z;
	int rc;

	mpz_inits(j->amount, j->unclaimed, NULL);
	eth_abi_init(&a, "jobs(bytes32)", 1);
	eth_abi_word(&a, id);
	if ((rc = view(c, c->escrow, &a, &r, &n, "jobs")) < 0)
		return rc;
	mpz_init(z);
	/* customer, deadline, state, claimUntil, amount, unclaimed, root */
	if (eth_ret_address(r, n, 0, j->customer) < 0 ||
	    eth_ret_mpz(r, n, 1, z) < 0 || (j->deadline = mpz_get_ui(z),
	    eth_ret_mpz(r, n, 2, z)) < 0 || (j->state = (int)mpz_get_ui(z),
	    eth_ret_mpz(r, n, 3, z)) < 0 || (j->claim_until = mpz_get_ui(z),
	    eth_ret_mpz(r, n, 4, j->amount)) < 0 ||
	    eth_ret_mpz(r, n, 5, j->unclaimed) < 0 || n < 224) {
		char *m = xstrdup(dml_errmsg());
		dml_error("jobs(): %s (is %s a JobEscrow?)", m, "--escrow");
		free(m);
		rc = CHAIN_REJECT;
	} else {
		memcpy(j->root, r + 192, 32);
		if (j->state < 0 || j->state >= CHAIN_NSTATES)
			j->state = CHAIN_NONE;
	}
	mpz_clear(z);
	free(r);
	return rc;
}

void
chain_job_clear(chain_job *j)
{
	mpz_clears(j->amount, j->unclaimed, NULL);
}

static int
token_of(chain *c, unsigned char token[20])
{
	eth_abi a;
	unsigned char *r;
	size_t n;
	int rc;

	eth_abi_init(&a, "token()", 0);
	if ((rc = view(c, c->escrow, &a, &r, &n, "token")) < 0)
		return rc;
	if (eth_ret_address(r, n, 0, token) < 0)
		rc = fail("token()");
	free(r);
	return rc;
}

/* ---- settle ------------------------------------------------------------- */

/* The address book: dml.eth.payee records, each signed by the identity
 * it maps; hex key -> address string. A payee named twice must name the
 * same address. */
static int
address_book(const char *path, json_t **out)
{
	json_t *book = json_object(), *r;
	rec_in *in;
	int rc;

	*out = book;
	if (!path)
		return 0;
	if (!(in = rec_open(path)))
		return CHAIN_ESYS;
	while ((rc = rec_next(in, &r)) > 0) {
		unsigned char pk[32], a[20];
		const char *addr, *old;
		char hex[65], norm[43];
		int bad = rec_check(in, r, "dml.eth.payee") < 0 ||
		    rec_get_str(in, r, "address", &addr) < 0 ||
		    rec_verify(r, in, pk) < 0;
		if (!bad && eth_address_parse(addr, a) < 0) {
			dml_error_prefix("%s:%ld", path, rec_line(in));
			bad = 1;
		}
		if (!bad) {
			key_hex(pk, 32, hex);
			eth_address_str(a, norm);
			old = json_string_value(json_object_get(book, hex));
			if (old && strcmp(old, norm) != 0) {
				dml_error("%s:%ld: %s is already mapped to %s",
				    path, rec_line(in), hex, old);
				bad = 1;
			} else
				json_object_set_new(book, hex, json_string(norm));
		}
		json_decref(r);
		if (bad) {
			rc = -1;
			break;
		}
	}
	rec_close(in);
	return rc < 0 ? CHAIN_REJECT : 0;
}

/* The leaves of a payout list: payees with an address, in the list's
 * order; what the others were to get goes back to the customer. */
static json_t *
leaves_of(const settle_list *p, const json_t *book, mpz_t paid,
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

/* The list's canonical line on the IPFS store: *cs its CID. */
static int
store_list(const json_t *rec, char cs[CID_MAXSTR])
{
	ipfs_store *st;
	char *line;
	size_t n;
	cid pc;
	int rc = 0;

	if (!(line = canon_dump(rec, NULL, NULL, &n)))
		return CHAIN_ESYS;
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	if (!(st = ipfs_open(NULL, NULL)) ||
	    ipfs_add_bytes(st, line, n + 1, 0, &pc) < 0) {
		dml_error_prefix("storing the payout list");
		rc = CHAIN_ESYS;
	} else
		cid_str(&pc, cs);
	if (st)
		ipfs_close(st);
	free(line);
	return rc;
}

/* The receipt's Settled event names the job and the root. */
static int
check_settled(const json_t *receipt, const char *job,
    const unsigned char id[32], const unsigned char root[32])
{
	json_t *logs = eth_receipt_logs(receipt,
	    "Settled(bytes32,bytes32,uint256,uint256,string)");
	json_t *lg = json_array_get(logs, 0);
	const char *t1 = json_string_value(json_array_get(json_object_get(lg,
	    "topics"), 1));
	const char *d = json_string_value(json_object_get(lg, "data"));
	char *want = eth_hex(id, 32), *wroot = eth_hex(root, 32);
	int rc = 0;

	if (json_array_size(logs) != 1 || !t1 || strcmp(t1, want) || !d ||
	    strlen(d) < 66 || strncmp(d + 2, wroot + 2, 64)) {
		dml_error("settle: the receipt has no Settled event for job %s "
		    "with root %s", job, wroot);
		rc = CHAIN_REJECT;
	}
	free(want);
	free(wroot);
	json_decref(logs);
	return rc;
}

/* The escrow `id_s` (a job's or a competition's CID; `what` names it) on
 * chain, which must be open or settled: *cj (cleared by the caller). */
static int
escrow_on_chain(chain *c, const char *what, const char *id_s,
    const char *deposit, unsigned char id[32], chain_job *cj)
{
	int st;

	chain_job_id(id_s, id);
	if ((st = chain_job_get(c, id, cj)) < 0)
		return st;
	if (cj->state == CHAIN_NONE) {
		dml_error("%s %s has no escrow on chain (dml-settle deposit%s)",
		    what, id_s, deposit);
		return CHAIN_REJECT;
	}
	if (cj->state != CHAIN_OPEN && cj->state != CHAIN_SETTLED) {
		dml_error("%s %s is already %s", what, id_s,
		    chain_state_name(cj->state));
		return CHAIN_REJECT;
	}
	return 0;
}

/* A dml.eth.settled record: the escrow, its root, the payout list's CID. */
static json_t *
settled_rec(const char *id_s, const unsigned char root[32], const char *cs)
{
	json_t *r = rec_new("dml.eth.settled");

	json_object_set_new(r, "job", json_string(id_s));
	json_object_set_new(r, "root", hexstr(root, 32));
	json_object_set_new(r, "payouts", json_string(cs));
	return r;
}

/* Commit payout list p of escrow id_s (state cj) as one Merkle root: the
 * dml.eth.payouts list (report and contributions name what it pays for;
 * contributions may be NULL) to the IPFS store and out, then
 * dml.eth.settled. Settled before with the same root: nothing sent. */
static int
settle_root(chain *c, const char *what, const char *id_s, const unsigned char id[32],
    const chain_job *cj, const char *report, const char *contributions,
    const char *customer, const settle_list *p, mpz_t refund,
    const json_t *book, char already[CID_MAXSTR])
{
	unsigned char root[32];
	char cs[CID_MAXSTR];
	merkle_tree tree;
	json_t *rec, *rc = NULL, *r;
	mpz_t paid, unmapped;
	eth_abi a;
	int st;

	mpz_inits(paid, unmapped, NULL);
	rec = rec_new("dml.eth.payouts");
	json_object_set_new(rec, "job", json_string(id_s));
	json_object_set_new(rec, "job_id", hexstr(id, 32));
	json_object_set_new(rec, "report", json_string(report));
	if (contributions)
		json_object_set_new(rec, "contributions",
		    json_string(contributions));
	json_object_set_new(rec, "customer", json_string(customer));
	json_object_set_new(rec, "escrow_contract", addrstr(c->escrow));
	json_object_set_new(rec, "escrow", mpzstr(cj->amount));
	json_object_set_new(rec, "leaves", leaves_of(p, book, paid, unmapped,
	    &tree));
	mpz_add(refund, refund, unmapped);
	merkle_root(&tree, root);
	merkle_free(&tree);
	json_object_set_new(rec, "paid", mpzstr(paid));
	json_object_set_new(rec, "refund", mpzstr(refund));
	json_object_set_new(rec, "unmapped", mpzstr(unmapped));
	json_object_set_new(rec, "root", hexstr(root, 32));

	/* the payout list on chain: what claims are proven against */
	if ((st = store_list(rec, cs)) < 0 ||
	    (st = emit(c, json_incref(rec))) < 0)
		goto out;
	if (cj->state == CHAIN_SETTLED) {
		/* a rerun after a crash, or a second settle: never twice */
		if (memcmp(cj->root, root, 32) != 0) {
			char *h = eth_hex(cj->root, 32);
			dml_error("%s %s is already settled on chain with "
			    "another root %s", what, id_s, h);
			free(h);
			st = CHAIN_REJECT;
			goto out;
		}
		r = settled_rec(id_s, root, cs);
		json_object_set_new(r, "already", json_true());
		strcpy(already, id_s);
		st = emit(c, r);
		goto out;
	}
	eth_abi_init(&a, "settle(bytes32,bytes32,uint256,string)", 4);
	eth_abi_word(&a, id);
	eth_abi_word(&a, root);
	eth_abi_mpz(&a, paid);
	eth_abi_string(&a, cs);
	if ((st = send_tx(c, c->escrow, &a, "settle", &rc)) < 0 ||
	    (st = check_settled(rc, id_s, id, root)) < 0)
		goto out;
	r = settled_rec(id_s, root, cs);
	json_object_set_new(r, "paid", mpzstr(paid));
	json_object_set_new(r, "refund", mpzstr(refund));
	st = emit_tx(c, r, rc);
out:
	json_decref(rc);
	json_decref(rec);
	mpz_clears(paid, unmapped, NULL);
	return st;
}

int
chain_settle(chain *c, const char *jobf, const char *storedf,
    const char *contribf, const char *bookf, char already[CID_MAXSTR])
{
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], hex[65];
	unsigned char id[32];
	settle_contrib sc;
	settle_terms t;
	settle_list p;
	chain_job cj;
	json_t *book = NULL;
	mpz_t refund;
	dml_job j;
	int st;

	already[0] = 0;
	if (job_load(jobf, &j) < 0)
		return CHAIN_REJECT;
	settle_terms_init(&t);
	settle_list_init(&p);
	mpz_inits(refund, cj.amount, cj.unclaimed, NULL);
	memset(&sc, 0, sizeof sc);
	st = CHAIN_REJECT;
	if (settle_terms_from_job(&t, &j) < 0)
		goto out;
	if ((st = settle_load_stored(storedf, report)) < 0 ||
	    (st = settle_load_contrib(contribf, j.id, &sc, cid_contrib)) < 0)
		goto out;
	if ((st = address_book(bookf, &book)) < 0)
		goto clear_sc;
	chain_job_clear(&cj);
	if ((st = escrow_on_chain(c, "job", j.id, "", id, &cj)) < 0)
		goto clear_sc;
	st = CHAIN_REJECT;
	if (settle_compute(&t, &sc, cj.amount, &p, refund) < 0) {
		dml_error_prefix("job %s", j.id);
		goto clear_sc;
	}
	key_hex(j.customer, 32, hex);
	st = settle_root(c, "job", j.id, id, &cj, report, cid_contrib, hex, &p,
	    refund, book, already);
clear_sc:
	settle_contrib_clear(&sc);
out:
	json_decref(book);
	settle_list_clear(&p);
	settle_terms_clear(&t);
	mpz_clears(refund, cj.amount, cj.unclaimed, NULL);
	job_free(&j);
	return st;
}

int
chain_settle_competition(chain *c, const char *compf, const char *boardf,
    const char *bookf, char already[CID_MAXSTR])
{
	char bid[CID_MAXSTR];
	unsigned char id[32];
	market_comp mc;
	settle_list p;
	chain_job cj;
	json_t *book = NULL;
	mpz_t refund, prize;
	int st;

	already[0] = 0;
	if (market_comp_load(compf, &mc) < 0)
		return CHAIN_REJECT;
	settle_list_init(&p);
	mpz_inits(refund, prize, cj.amount, cj.unclaimed, NULL);
	st = CHAIN_REJECT;
	if (market_award_list(&mc, boardf, bid, &p, refund) < 0)
		goto out;
	if ((st = address_book(bookf, &book)) < 0)
		goto out;
	chain_job_clear(&cj);
	if ((st = escrow_on_chain(c, "competition", mc.id, " --competition",
	    id, &cj)) < 0)
		goto out;
	mpz_set_str(prize, mc.prize, 10);
	if (mpz_cmp(cj.amount, prize) != 0) {
		char *a = mpz_get_str(NULL, 10, cj.amount);
		dml_error("competition %s: %s tokens are deposited on chain, "
		    "its prize is %s", mc.id, a, mc.prize);
		free(a);
		st = CHAIN_REJECT;
		goto out;
	}
	st = settle_root(c, "competition", mc.id, id, &cj, bid, NULL, mc.customer, &p,
	    refund, book, already);
out:
	json_decref(book);
	settle_list_clear(&p);
	mpz_clears(refund, prize, cj.amount, cj.unclaimed, NULL);
	market_comp_free(&mc);
	return st;
}

/* ---- claim -------------------------------------------------------------- */

/* The first dml.eth.payouts record of a file. */
static int
payouts_load(const char *payf, json_t **out)
{
	json_t *x, *rec = NULL;
	const char *s;
	rec_in *in;
	int got;

	if (!(in = rec_open(payf)))
		return CHAIN_ESYS;
	rec_set_copy(in, 1);	/* the record outlives the reader */
	while ((got = rec_next(in, &x)) > 0) {
		s = json_string_value(json_object_get(x, "type"));
		if (s && strcmp(s, "dml.eth.payouts") == 0) {
			rec = x;
			break;
		}
		json_decref(x);
	}
	rec_close(in);
	if (got < 0)
		return CHAIN_REJECT;
	if (!rec) {
		dml_error("%s: no dml.eth.payouts record", payf);
		return CHAIN_REJECT;
	}
	*out = rec;
	return 0;
}

/* The leaf is not claimed yet (or the check is skipped). */
static int
check_unclaimed(chain *c, const json_t *rec, const char *payf,
    const unsigned char id[32], const unsigned char root[32], size_t i)
{
	const char *job = json_string_value(json_object_get(rec, "job"));
	unsigned char *r;
	chain_job cj;
	size_t rn;
	eth_abi abi;
	mpz_t z;
	int st;

	if ((st = chain_job_get(c, id, &cj)) < 0)
		goto out;
	st = CHAIN_REJECT;
	if (cj.state != CHAIN_SETTLED) {
		dml_error("job %s is %s on chain, not settled", job,
		    chain_state_name(cj.state));
		goto out;
	}
	if (memcmp(cj.root, root, 32) != 0) {
		dml_error("the root on chain is not the root of %s", payf);
		goto out;
	}
	eth_abi_init(&abi, "claimed(bytes32,uint256)", 2);
	eth_abi_word(&abi, id);
	eth_abi_u64(&abi, i);
	if ((st = view(c, c->escrow, &abi, &r, &rn, "claimed")) < 0)
		goto out;
	mpz_init(z);
	if (eth_ret_mpz(r, rn, 0, z) == 0 && mpz_sgn(z)) {
		dml_error("leaf %zu of job %s is already claimed", i, job);
		st = CHAIN_REJECT;
	}
	free(r);
	mpz_clear(z);
out:
	chain_job_clear(&cj);
	return st;
}

int
chain_claim(chain *c, const char *payf, long index, const char *who,
    const char *role, int proof_only, int force)
{
	unsigned char (*lv)[32] = NULL, id[32], root[32], proof[64][32], a[20],
	    r32[32];
	json_t *rec, *x, *leaves, *leaf = NULL, *pr, *rc = NULL, *logs;
	size_t n, np, i;
	merkle_tree t;
	eth_abi abi;
	mpz_t amt;
	int st;

	if ((st = payouts_load(payf, &rec)) < 0)
		return st;
	mpz_init(amt);
	st = CHAIN_REJECT;
	leaves = json_object_get(rec, "leaves");
	if (!json_is_array(leaves) || eth_unhex(json_string_value(
	    json_object_get(rec, "job_id")) ? json_string_value(
	    json_object_get(rec, "job_id")) : "", id, 32) < 0 ||
	    eth_unhex(json_string_value(json_object_get(rec, "root")) ?
	    json_string_value(json_object_get(rec, "root")) : "", root, 32) < 0) {
		dml_error("%s: malformed dml.eth.payouts", payf);
		goto out;
	}
	n = json_array_size(leaves);
	lv = xmalloc((n + 1) * 32);
	json_array_foreach(leaves, i, x) {
		const char *ad = json_string_value(json_object_get(x, "address"));
		const char *ro = json_string_value(json_object_get(x, "role"));
		const char *am = json_string_value(json_object_get(x, "amount"));
		if (!ad || !ro || !am || eth_address_parse(ad, a) < 0 ||
		    merkle_role(ro, r32) < 0 || mpz_set_str(amt, am, 10) < 0 ||
		    json_integer_value(json_object_get(x, "index")) !=
		    (json_int_t)i) {
			dml_error("%s: leaf %zu is malformed", payf, i);
			goto out;
		}
		merkle_leaf(i, a, amt, r32, lv[i]);
		if ((index >= 0 && (size_t)index == i) || (index < 0 && who &&
		    strcasecmp(ad, who) == 0 && (!role || !strcmp(ro, role)))) {
			if (leaf) {
				dml_error("%s: %s has more than one leaf: give "
				    "--index or --role", payf, who);
				goto out;
			}
			leaf = x;
		}
	}
	if (!leaf) {
		dml_error("%s: no such leaf", payf);
		goto out;
	}
	merkle_build(&t, (const unsigned char (*)[32])lv, n);
	merkle_root(&t, r32);
	i = (size_t)json_integer_value(json_object_get(leaf, "index"));
	merkle_proof(&t, i, proof, &np);
	merkle_free(&t);
	if (memcmp(r32, root, 32) != 0 && !force) {
		dml_error("%s: the leaves do not give the root the list names",
		    payf);
		goto out;
	}
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
	if ((st = emit(c, x)) < 0 || proof_only)
		goto out;
	if (!force && (st = check_unclaimed(c, rec, payf, id, root, i)) < 0)
		goto out;
	eth_abi_init(&abi, "claim(bytes32,uint256,address,uint256,bytes32,"
	    "bytes32[])", 6);
	eth_abi_word(&abi, id);
	eth_abi_u64(&abi, i);
	eth_abi_address(&abi, a);
	eth_abi_mpz(&abi, amt);
	eth_abi_word(&abi, r32);
	eth_abi_words(&abi, (const unsigned char (*)[32])proof, np);
	if ((st = send_tx(c, c->escrow, &abi, "claim", &rc)) < 0)
		goto out;
	logs = eth_receipt_logs(rc,
	    "Claimed(bytes32,uint256,address,uint256,bytes32)");
	n = json_array_size(logs);
	json_decref(logs);
	if (n != 1) {
		dml_error("claim: no Claimed event in the receipt");
		st = CHAIN_REJECT;
		goto out;
	}
	x = rec_new("dml.eth.claimed");
	json_object_set(x, "job", json_object_get(rec, "job"));
	json_object_set_new(x, "index", json_integer((json_int_t)i));
	json_object_set_new(x, "address", addrstr(a));
	json_object_set_new(x, "amount", mpzstr(amt));
	st = emit_tx(c, x, rc);
out:
	free(lv);
	json_decref(rc);
	mpz_clear(amt);
	json_decref(rec);
	return st;
}

/* ---- deploy ------------------------------------------------------------- */

static int
contract_code(const char *dir, const char *name, unsigned char **code,
    size_t *n)
{
	char *path = xasprintf("%s/%s.bin", dir, name), *buf = NULL;
	size_t len;
	int rc = CHAIN_ESYS;

	if (dml_read_file(path, &buf, &len) < 0) {
		char *m = xstrdup(dml_errmsg());
		dml_error("%s (run contrib/ethereum/compile)", m);
		free(m);
		goto out;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	if (len % 2 || !len) {
		dml_error("%s: not hex bytecode", path);
		goto out;
	}
	*code = xmalloc(len / 2);
	if (eth_unhex(buf, *code, len / 2) < 0) {
		dml_error_prefix("%s", path);
		free(*code);
		goto out;
	}
	*n = len / 2;
	rc = 0;
out:
	free(buf);
	free(path);
	return rc;
}

/* a contract creation: code + constructor arguments (freed) */
static int
create(chain *c, const char *dir, const char *name, eth_abi *args,
    unsigned char addr[20], json_t **rc)
{
	unsigned char *code, *data;
	const char *ca;
	size_t n;
	int st;

	eth_abi_end(args);
	if ((st = contract_code(dir, name, &code, &n)) < 0) {
		eth_abi_free(args);
		return st;
	}
	data = xmalloc(n + args->n);
	memcpy(data, code, n);
	memcpy(data + n, args->p, args->n);
	*rc = eth_send(c->rpc, &c->key, NULL, data, n + args->n, &c->opt);
	st = *rc ? 0 : fail(name);
	free(data);
	free(code);
	eth_abi_free(args);
	if (st < 0)
		return st;
	ca = json_string_value(json_object_get(*rc, "contractAddress"));
	if (eth_address_parse(ca ? ca : "", addr) < 0) {
		dml_error("%s: no contract address in the receipt", name);
		json_decref(*rc);
		*rc = NULL;
		return CHAIN_REJECT;
	}
	return 0;
}

int
chain_deploy(chain *c, const char *dir, const mpz_t supply,
    const mpz_t growth, const mpz_t bounty, const unsigned char *settler,
    uint64_t claim_period)
{
	unsigned char token[20], escrow[20], st[20];
	json_t *r1 = NULL, *r2 = NULL, *r;
	eth_abi a;
	int rc;

	if (!c->has_key) {
		dml_error("deploy needs --eth-key FILE");
		return CHAIN_ESYS;
	}
	memcpy(st, settler ? settler : c->key.addr, 20);
	eth_abi_init(&a, NULL, 3);
	eth_abi_mpz(&a, supply);
	eth_abi_mpz(&a, growth);
	eth_abi_mpz(&a, bounty);
	if ((rc = create(c, dir, "DMLToken", &a, token, &r1)) < 0)
		return rc;
	eth_abi_init(&a, NULL, 3);
	eth_abi_address(&a, token);
	eth_abi_address(&a, st);
	eth_abi_u64(&a, claim_period);
	if ((rc = create(c, dir, "JobEscrow", &a, escrow, &r2)) < 0)
		goto out;
	r = rec_new("dml.eth.deployment");
	json_object_set_new(r, "chain_id", json_integer((json_int_t)
	    eth_chain_id(c->rpc)));
	json_object_set_new(r, "token", addrstr(token));
	json_object_set_new(r, "escrow", addrstr(escrow));
	json_object_set_new(r, "settler", addrstr(st));
	json_object_set_new(r, "authority", addrstr(c->key.addr));
	json_object_set_new(r, "claim_period", json_integer((json_int_t)
	    claim_period));
	json_object_set_new(r, "gas_used", json_integer((json_int_t)
	    (gas_used(r1) + gas_used(r2))));
	rc = emit(c, r);
out:
	json_decref(r1);
	json_decref(r2);
	return rc;
}

/* ---- deposit, transfer, balance, status, refund ------------------------- */

/* The job bound on chain to the single-use license lic_s (its CID) into
 * job (zero: none). */
int
chain_license_job(chain *c, const char *lic_s, unsigned char job[32])
{
	unsigned char lid[32], *r;
	eth_abi a;
	size_t n;
	int rc;

	chain_job_id(lic_s, lid);
	eth_abi_init(&a, "licenseJob(bytes32)", 1);
	eth_abi_word(&a, lid);
	if ((rc = view(c, c->escrow, &a, &r, &n, "licenseJob")) < 0)
		return rc;
	if (n < 32) {
		dml_error("licenseJob(): a short answer (is --escrow a JobEscrow "
		    "with licenses?)");
		rc = CHAIN_REJECT;
	} else
		memcpy(job, r, 32);
	free(r);
	return rc;
}

/* approve and deposit amt against escrow id_s until deadline, naming the
 * license lic_s (its CID; NULL: none), single use if single. */
static int
deposit(chain *c, const char *id_s, const mpz_t amt, long long deadline,
    const char *lic_s, int single)
{
	static const unsigned char zero[32];
	unsigned char token[20], id[32], lid[32], used[32];
	json_t *rc = NULL, *r;
	eth_abi a;
	int st;

	chain_job_id(id_s, id);
	memset(lid, 0, sizeof lid);
	if (lic_s) {
		chain_job_id(lic_s, lid);
		/* refused before any transaction: the contract checks again */
		if (single && (st = chain_license_job(c, lic_s, used)) < 0)
			return st;
		if (single && memcmp(used, zero, 32)) {
			char *h = eth_hex(used, 32);

			dml_error("license %s is single use and already backs "
			    "job %s on chain: job %s may not use it", lic_s, h,
			    id_s);
			free(h);
			return CHAIN_REJECT;
		}
	}
	if ((st = token_of(c, token)) < 0)
		return st;
	eth_abi_init(&a, "approve(address,uint256)", 2);
	eth_abi_address(&a, c->escrow);
	eth_abi_mpz(&a, amt);
	if ((st = send_tx(c, token, &a, "approve", &rc)) < 0)
		return st;
	json_decref(rc);
	eth_abi_init(&a, "deposit(bytes32,uint256,uint64,bytes32,bool)", 5);
	eth_abi_word(&a, id);
	eth_abi_mpz(&a, amt);
	eth_abi_u64(&a, (uint64_t)deadline);
	eth_abi_word(&a, lid);
	eth_abi_u64(&a, single && lic_s ? 1 : 0);
	if ((st = send_tx(c, c->escrow, &a, "deposit", &rc)) < 0) {
		if (lic_s && strstr(dml_errmsg(), "LicenseUsed"))
			dml_error_prefix("license %s is single use and already "
			    "backs another job on chain", lic_s);
		return st;
	}
	r = rec_new("dml.eth.deposited");
	json_object_set_new(r, "job", json_string(id_s));
	json_object_set_new(r, "job_id", hexstr(id, 32));
	json_object_set_new(r, "amount", mpzstr(amt));
	json_object_set_new(r, "deadline", json_integer(deadline));
	if (lic_s) {
		json_object_set_new(r, "license", json_pack("{s:s, s:s, s:o}",
		    "id", lic_s, "kind", single ? "single" : "subscription",
		    "license_id", hexstr(lid, 32)));
	}
	set_tx(r, rc, 1);
	json_decref(rc);
	return emit(c, r);
}

int
chain_deposit(chain *c, const char *jobf, const char *amount)
{
	const char *budget, *dl, *lic;
	long long deadline;
	dml_job j;
	mpz_t amt;
	int st, single;

	if (job_load(jobf, &j) < 0)
		return CHAIN_REJECT;
	mpz_init(amt);
	st = CHAIN_REJECT;
	budget = amount ? amount : json_string_value(json_object_get(
	    json_object_get(j.rec, "reward"), "budget"));
	if (!budget || mpz_set_str(amt, budget, 10) < 0 || mpz_sgn(amt) <= 0) {
		dml_error("%s: no budget to deposit", jobf);
		goto out;
	}
	dl = json_string_value(json_object_get(j.rec, "deadline"));
	if (timefmt_parse(dl ? dl : "", &deadline) < 0) {
		dml_error_prefix("%s: bad deadline", jobf);
		goto out;
	}
	lic = job_license(&j, &single);
	st = deposit(c, j.id, amt, deadline, lic, single);
out:
	mpz_clear(amt);
	job_free(&j);
	return st;
}

int
chain_deposit_id(chain *c, const char *id_s, const char *amount,
    long long deadline)
{
	mpz_t amt;
	int st = CHAIN_REJECT;

	mpz_init(amt);
	if (mpz_set_str(amt, amount, 10) < 0 || mpz_sgn(amt) <= 0)
		dml_error("%s: no amount to deposit", id_s);
	else
		st = deposit(c, id_s, amt, deadline, NULL, 0);
	mpz_clear(amt);
	return st;
}

/* A token call sig(to, amount[, text]): *rc the receipt. */
static int
token_tx(chain *c, const unsigned char token[20], const char *sig,
    const unsigned char to[20], const mpz_t amount, const char *text,
    const char *what, json_t **rc)
{
	eth_abi a;

	eth_abi_init(&a, sig, text ? 3 : 2);
	eth_abi_address(&a, to);
	eth_abi_mpz(&a, amount);
	if (text)
		eth_abi_string(&a, text);
	return send_tx(c, token, &a, what, rc);
}

int
chain_transfer(chain *c, const unsigned char to[20], const mpz_t amount)
{
	unsigned char token[20];
	json_t *rc, *r;
	int st;

	if ((st = token_of(c, token)) < 0 ||
	    (st = token_tx(c, token, "transfer(address,uint256)", to, amount,
	    NULL, "transfer", &rc)) < 0)
		return st;
	r = rec_new("dml.eth.transferred");
	json_object_set_new(r, "to", addrstr(to));
	json_object_set_new(r, "amount", mpzstr(amount));
	set_tx(r, rc, 0);
	json_decref(rc);
	return emit(c, r);
}

/* The token balance of an address. */
static int
balance_of(chain *c, const unsigned char token[20], const unsigned char a[20],
    mpz_t out)
{
	unsigned char *r;
	size_t n;
	eth_abi abi;
	int st;

	eth_abi_init(&abi, "balanceOf(address)", 1);
	eth_abi_address(&abi, a);
	if ((st = view(c, token, &abi, &r, &n, "balanceOf")) < 0)
		return st;
	if (eth_ret_mpz(r, n, 0, out) < 0)
		st = fail("balanceOf");
	free(r);
	return st;
}

int
chain_balance(chain *c, char **addrs, int n)
{
	unsigned char token[20], a[20];
	mpz_t z;
	int st;

	if ((st = token_of(c, token)) < 0)
		return st;
	mpz_init(z);
	for (int i = 0; i < n && st == 0; i++) {
		json_t *rec;
		if (eth_address_parse(addrs[i], a) < 0) {
			st = CHAIN_REJECT;
			break;
		}
		if ((st = balance_of(c, token, a, z)) < 0)
			break;
		rec = rec_new("dml.eth.balance");
		json_object_set_new(rec, "address", addrstr(a));
		json_object_set_new(rec, "amount", mpzstr(z));
		st = emit(c, rec);
	}
	mpz_clear(z);
	return st;
}

int
chain_status(chain *c, const char *jobf)
{
	static const unsigned char zero[32];
	unsigned char id[32], used[32];
	const char *lic;
	chain_job cj;
	json_t *r;
	dml_job j;
	int st, single;

	if (job_load(jobf, &j) < 0)
		return CHAIN_REJECT;
	chain_job_id(j.id, id);
	if ((st = chain_job_get(c, id, &cj)) == 0) {
		r = rec_new("dml.eth.job");
		json_object_set_new(r, "job", json_string(j.id));
		json_object_set_new(r, "job_id", hexstr(id, 32));
		json_object_set_new(r, "state", json_string(
		    chain_state_name(cj.state)));
		json_object_set_new(r, "amount", mpzstr(cj.amount));
		json_object_set_new(r, "unclaimed", mpzstr(cj.unclaimed));
		json_object_set_new(r, "root", hexstr(cj.root, 32));
		json_object_set_new(r, "customer", addrstr(cj.customer));
		json_object_set_new(r, "deadline", json_integer((json_int_t)
		    cj.deadline));
		if (cj.state >= CHAIN_SETTLED && cj.state != CHAIN_REFUNDED)
			json_object_set_new(r, "claim_until", json_integer(
			    (json_int_t)cj.claim_until));
		/* a single-use license: the job it is bound to on chain */
		lic = job_license(&j, &single);
		if (lic && single && (st = chain_license_job(c, lic, used)) < 0) {
			json_decref(r);
			goto out;
		}
		if (lic && single)
			json_object_set_new(r, "license", json_pack("{s:s, s:o}",
			    "id", lic, "used_by", memcmp(used, zero, 32) ?
			    hexstr(used, 32) : json_null()));
		st = emit(c, r);
	}
out:
	chain_job_clear(&cj);
	job_free(&j);
	return st;
}

/* Send escrow call `sig` (one bytes32 argument: the job's id) about the
 * job of jobf: *rc the receipt. On failure j is freed. */
static int
job_tx(chain *c, const char *jobf, const char *sig, const char *what,
    dml_job *j, json_t **rc)
{
	unsigned char id[32];
	eth_abi a;
	int st;

	if (job_load(jobf, j) < 0)
		return CHAIN_REJECT;
	chain_job_id(j->id, id);
	eth_abi_init(&a, sig, 1);
	eth_abi_word(&a, id);
	if ((st = send_tx(c, c->escrow, &a, what, rc)) < 0)
		job_free(j);
	return st;
}

int
chain_refund(chain *c, const char *jobf)
{
	json_t *rc, *r;
	dml_job j;
	int st;

	if ((st = job_tx(c, jobf, "refund(bytes32)", "refund", &j, &rc)) < 0)
		return st;
	r = rec_new("dml.eth.refunded");
	json_object_set_new(r, "job", json_string(j.id));
	set_tx(r, rc, 0);
	json_decref(rc);
	st = emit(c, r);
	job_free(&j);
	return st;
}

int
chain_sweep(chain *c, const char *jobf)
{
	json_t *rc, *r, *logs;
	const char *d;
	dml_job j;
	mpz_t amt;
	int st;

	if ((st = job_tx(c, jobf, "sweep(bytes32)", "sweep", &j, &rc)) < 0)
		return st;
	logs = eth_receipt_logs(rc, "Swept(bytes32,address,uint256)");
	d = json_string_value(json_object_get(json_array_get(logs, 0),
	    "data"));
	mpz_init(amt);
	if (json_array_size(logs) != 1 || !d || strlen(d) != 66 ||
	    mpz_set_str(amt, d + 2, 16) < 0) {
		dml_error("sweep: no Swept event in the receipt");
		st = CHAIN_REJECT;
	} else {
		r = rec_new("dml.eth.swept");
		json_object_set_new(r, "job", json_string(j.id));
		json_object_set_new(r, "amount", mpzstr(amt));
		st = emit_tx(c, r, rc);
	}
	mpz_clear(amt);
	json_decref(logs);
	json_decref(rc);
	job_free(&j);
	return st;
}

/* ---- the token's pools -------------------------------------------------- */

/* An owner of an emission: its key and address. */
typedef struct owner {
	char key[65];
	unsigned char addr[20];
	unsigned long drawn;
} owner;

static int
owner_cmp(const void *a, const void *b)
{
	return memcmp(((const owner *)a)->addr, ((const owner *)b)->addr, 20);
}

/* The owners file through the address book, sorted by address. */
static int
owners_of(const char *ownersf, const char *bookf, owner **out, size_t *n)
{
	char (*keys)[65] = NULL;
	json_t *book = NULL;
	owner *v = NULL;
	int st;

	if ((st = ledger_read_owners(ownersf, &keys, n)) < 0)
		return st == LEDGER_ESYS ? CHAIN_ESYS : CHAIN_REJECT;
	if ((st = address_book(bookf, &book)) < 0)
		goto out;
	v = xcalloc(*n, sizeof *v);
	st = CHAIN_REJECT;
	for (size_t i = 0; i < *n; i++) {
		const char *a = json_string_value(json_object_get(book, keys[i]));
		if (!a) {
			dml_error("%s: owner %.16s... has no address in %s",
			    ownersf, keys[i], bookf ? bookf : "the address book "
			    "(--payees)");
			goto out;
		}
		memcpy(v[i].key, keys[i], 65);
		eth_address_parse(a, v[i].addr);
	}
	qsort(v, *n, sizeof *v, owner_cmp);
	for (size_t i = 1; i < *n; i++)
		if (memcmp(v[i - 1].addr, v[i].addr, 20) == 0) {
			char s[43];
			eth_address_str(v[i].addr, s);
			dml_error("%s: owners %.16s... and %.16s... have the same "
			    "address %s", ownersf, v[i - 1].key, v[i].key, s);
			goto out;
		}
	*out = v;
	v = NULL;
	st = 0;
out:
	free(v);
	free(keys);
	json_decref(book);
	return st;
}

/* Word i of a log's data as an integer. */
static int
log_word(const json_t *lg, size_t i, mpz_t out)
{
	const char *d = json_string_value(json_object_get(lg, "data"));
	char w[65];

	if (!d || strlen(d) < 2 + 64 * (i + 1))
		return -1;
	memcpy(w, d + 2 + 64 * i, 64);
	w[64] = 0;
	return mpz_set_str(out, w, 16);
}

/* The payouts of an emission as the contract makes them: 90% in equal
 * floor shares, then min(n, 10) extras drawn by keccak256(abi.encode(seed,
 * epoch, i)) mod n over the owners in address order. */
static json_t *
emission_payouts(owner *v, size_t n, long long epoch,
    const unsigned char seed[32], const mpz_t amount, mpz_t total)
{
	size_t k = n < 10 ? n : 10;
	unsigned char m[96], h[32];
	settle_list l;
	json_t *out = json_array();
	mpz_t base, share, xshare, x, idx;

	mpz_inits(base, share, xshare, x, idx, NULL);
	settle_list_init(&l);
	mpz_mul_ui(base, amount, 9);
	mpz_fdiv_q_ui(base, base, 10);
	mpz_fdiv_q_ui(share, base, n);
	mpz_sub(xshare, amount, base);
	mpz_fdiv_q_ui(xshare, xshare, k);
	memset(m, 0, sizeof m);
	memcpy(m, seed, 32);
	for (int b = 0; b < 8; b++)
		m[56 + b] = (unsigned char)((unsigned long long)epoch >>
		    (56 - 8 * b));
	for (size_t i = 0; i < n; i++)
		v[i].drawn = 0;
	for (size_t i = 0; i < k; i++) {
		m[95] = (unsigned char)i;	/* i < 10 */
		keccak256(h, m, sizeof m);
		mpz_import(idx, 32, 1, 1, 1, 0, h);
		v[mpz_fdiv_ui(idx, n)].drawn++;
	}
	for (size_t j = 0; j < n; j++) {
		mpz_mul_ui(x, xshare, v[j].drawn);
		settle_list_add(&l, v[j].key, settle_role("owner"), share);
		settle_list_add(&l, v[j].key, settle_role("extra"), x);
	}
	settle_list_sort(&l);
	for (size_t i = 0; i < l.n; i++) {
		json_t *o = json_object();
		for (size_t j = 0; j < n; j++)
			if (strcmp(v[j].key, l.v[i].to) == 0) {
				json_object_set_new(o, "address", addrstr(v[j].addr));
				break;
			}
		json_object_set_new(o, "to", json_string(l.v[i].to));
		json_object_set_new(o, "role", json_string(l.v[i].role));
		json_object_set_new(o, "amount", mpzstr(l.v[i].amount));
		json_array_append_new(out, o);
	}
	mpz_set(total, l.total);
	settle_list_clear(&l);
	mpz_clears(base, share, xshare, x, idx, NULL);
	return out;
}

int
chain_emit_growth(chain *c, long long epoch, const char *ownersf,
    const char *bookf)
{
	unsigned char token[20], (*addrs)[32], seed[32], ep[32];
	json_t *rc = NULL, *logs = NULL, *lg, *r, *pay;
	const char *t1, *d;
	owner *v = NULL;
	size_t n;
	eth_abi a;
	mpz_t amount, paid, owners, total;
	char *want = NULL;
	int st;

	if ((st = owners_of(ownersf, bookf, &v, &n)) < 0)
		return st;
	mpz_inits(amount, paid, owners, total, NULL);
	if ((st = token_of(c, token)) < 0)
		goto out;
	addrs = xcalloc(n + 1, 32);
	for (size_t i = 0; i < n; i++)
		memcpy(addrs[i] + 12, v[i].addr, 20);
	eth_abi_init(&a, "emitGrowth(uint256,address[])", 2);
	eth_abi_u64(&a, (uint64_t)epoch);
	eth_abi_words(&a, (const unsigned char (*)[32])addrs, n);
	free(addrs);
	if ((st = send_tx(c, token, &a, "emit", &rc)) < 0)
		goto out;
	st = CHAIN_REJECT;
	logs = eth_receipt_logs(rc,
	    "Emission(uint256,uint256,uint256,uint256,bytes32)");
	lg = json_array_get(logs, 0);
	t1 = json_string_value(json_array_get(json_object_get(lg, "topics"),
	    1));
	d = json_string_value(json_object_get(lg, "data"));
	memset(ep, 0, 32);
	for (int b = 0; b < 8; b++)
		ep[24 + b] = (unsigned char)((unsigned long long)epoch >>
		    (56 - 8 * b));
	want = eth_hex(ep, 32);
	if (json_array_size(logs) != 1 || !t1 || strcmp(t1, want) != 0 ||
	    log_word(lg, 0, amount) < 0 || log_word(lg, 1, paid) < 0 ||
	    log_word(lg, 2, owners) < 0 || mpz_cmp_ui(owners, n) != 0 ||
	    strlen(d) != 2 + 4 * 64 || eth_unhex(d + 2 + 3 * 64, seed, 32) < 0) {
		dml_error("emit: the receipt has no Emission event of epoch "
		    "%lld to %zu owners", epoch, n);
		goto out;
	}
	pay = emission_payouts(v, n, epoch, seed, amount, total);
	if (mpz_cmp(total, paid) != 0) {
		char *a1 = mpz_get_str(NULL, 10, paid),
		     *a2 = mpz_get_str(NULL, 10, total);
		dml_error("emit: the Emission event says %s paid, the payouts "
		    "add up to %s", a1, a2);
		free(a1);
		free(a2);
		json_decref(pay);
		goto out;
	}
	r = rec_new("dml.eth.emitted");
	json_object_set_new(r, "epoch", json_integer((json_int_t)epoch));
	json_object_set_new(r, "amount", mpzstr(amount));
	json_object_set_new(r, "paid", mpzstr(paid));
	json_object_set_new(r, "owners", json_integer((json_int_t)n));
	json_object_set_new(r, "seed", hexstr(seed, 32));
	json_object_set_new(r, "payouts", pay);
	st = emit_tx(c, r, rc);
out:
	free(want);
	free(v);
	json_decref(logs);
	json_decref(rc);
	mpz_clears(amount, paid, owners, total, NULL);
	return st;
}

int
chain_bounty(chain *c, const unsigned char to[20], const mpz_t amount,
    const char *reason)
{
	unsigned char token[20];
	json_t *rc, *r, *logs;
	size_t n;
	int st;

	if ((st = token_of(c, token)) < 0 ||
	    (st = token_tx(c, token, "payBounty(address,uint256,string)", to,
	    amount, reason ? reason : "", "bounty", &rc)) < 0)
		return st;
	logs = eth_receipt_logs(rc, "Bounty(address,uint256,string)");
	n = json_array_size(logs);
	json_decref(logs);
	if (n != 1) {
		json_decref(rc);
		dml_error("bounty: no Bounty event in the receipt");
		return CHAIN_REJECT;
	}
	r = rec_new("dml.eth.bounty");
	json_object_set_new(r, "to", addrstr(to));
	json_object_set_new(r, "amount", mpzstr(amount));
	if (reason)
		json_object_set_new(r, "reason", json_string(reason));
	set_tx(r, rc, 1);
	json_decref(rc);
	return emit(c, r);
}

/* ---- payments: a license's price paid to its developer ----------------- */

int
chain_payee(const char *bookf, const char *key, unsigned char addr[20])
{
	json_t *book;
	const char *a;
	int st;

	if ((st = address_book(bookf, &book)) < 0) {
		json_decref(book);
		return st;
	}
	a = json_string_value(json_object_get(book, key));
	if (a)
		eth_address_parse(a, addr);
	else
		dml_error("%.16s... has no address in %s", key, bookf ? bookf :
		    "the address book (--payees)");
	json_decref(book);
	return a ? 0 : CHAIN_REJECT;
}

/* Is there, in the receipt, a Transfer(from, to, amount) log of the token? */
static int
has_transfer(const json_t *receipt, const unsigned char token[20],
    const unsigned char from[20], const unsigned char to[20],
    const mpz_t amount)
{
	json_t *logs = eth_receipt_logs(receipt,
	    "Transfer(address,address,uint256)"), *lg;
	unsigned char w[32];
	size_t i;
	int found = 0;
	mpz_t v;

	mpz_init(v);
	json_array_foreach(logs, i, lg) {
		json_t *tp = json_object_get(lg, "topics");
		const char *ad = json_string_value(json_object_get(lg, "address")),
		    *t1 = json_string_value(json_array_get(tp, 1)),
		    *t2 = json_string_value(json_array_get(tp, 2));
		unsigned char a[20];
		if (!ad || !t1 || !t2 || eth_address_parse(ad, a) < 0 ||
		    memcmp(a, token, 20) != 0)
			continue;
		if (eth_unhex(t1, w, 32) < 0 || memcmp(w + 12, from, 20) != 0 ||
		    eth_unhex(t2, w, 32) < 0 || memcmp(w + 12, to, 20) != 0 ||
		    log_word(lg, 0, v) < 0 || mpz_cmp(v, amount) != 0)
			continue;
		found = 1;
	}
	mpz_clear(v);
	json_decref(logs);
	return found;
}

int
chain_pay(chain *c, const unsigned char to[20], const mpz_t amount,
    json_t **payment)
{
	unsigned char token[20];
	json_t *rc = NULL, *p;
	uint64_t block = 0, id;
	mpz_t bal;
	int st;

	*payment = NULL;
	if (!c->has_key) {
		dml_error("paying needs --eth-key FILE");
		return CHAIN_ESYS;
	}
	if ((st = token_of(c, token)) < 0)
		return st;
	mpz_init(bal);
	if ((st = balance_of(c, token, c->key.addr, bal)) == 0 &&
	    mpz_cmp(bal, amount) < 0) {
		char s[43], *a = mpz_get_str(NULL, 10, amount),
		     *b = mpz_get_str(NULL, 10, bal);
		eth_address_str(c->key.addr, s);
		dml_error("insufficient funds: %s tokens to pay, the token "
		    "balance of %s is %s", a, s, b);
		free(a);
		free(b);
		st = CHAIN_REJECT;
	}
	mpz_clear(bal);
	if (st < 0)
		return st;
	if (!(id = eth_chain_id(c->rpc)))
		return fail("chain id");
	if ((st = token_tx(c, token, "transfer(address,uint256)", to, amount,
	    NULL, "transfer", &rc)) < 0)
		return st;
	if (!has_transfer(rc, token, c->key.addr, to, amount) ||
	    eth_quantity_u64(json_object_get(rc, "blockNumber"), &block) < 0) {
		json_decref(rc);
		dml_error("transfer: the receipt has no Transfer event of the "
		    "payment");
		return CHAIN_REJECT;
	}
	p = json_object();
	json_object_set_new(p, "chain", json_integer((json_int_t)id));
	json_object_set_new(p, "token", addrstr(token));
	json_object_set(p, "tx", json_object_get(rc, "transactionHash"));
	json_object_set_new(p, "block", json_integer((json_int_t)block));
	json_object_set_new(p, "from", addrstr(c->key.addr));
	json_object_set_new(p, "to", addrstr(to));
	json_object_set_new(p, "amount", mpzstr(amount));
	json_decref(rc);
	*payment = p;
	return 0;
}

/* An address field of a payment. */
static int
pay_addr(const json_t *p, const char *key, unsigned char a[20])
{
	const char *s = json_string_value(json_object_get(p, key));

	if (!s || eth_address_parse(s, a) < 0)
		return dml_error("field \"payment.%s\" is not an address", key);
	return 0;
}

int
chain_payment_check(chain *c, const json_t *p, const unsigned char from[20],
    const unsigned char to[20], const mpz_t amount)
{
	unsigned char token[20], pt[20], pf[20], pto[20], h[32];
	const char *tx = json_string_value(json_object_get(p, "tx")),
		   *am = json_string_value(json_object_get(p, "amount"));
	json_int_t chain_id = json_integer_value(json_object_get(p, "chain")),
		   block = json_integer_value(json_object_get(p, "block"));
	uint64_t id, got = 0;
	json_t *rc;
	char want[43];
	mpz_t v;
	int st, ok;

	if (pay_addr(p, "token", pt) < 0 || pay_addr(p, "from", pf) < 0 ||
	    pay_addr(p, "to", pto) < 0)
		return CHAIN_REJECT;
	if (!tx || strlen(tx) != 66 || eth_unhex(tx, h, 32) < 0)
		return dml_error("field \"payment.tx\" is not a transaction "
		    "hash"), CHAIN_REJECT;
	mpz_init(v);
	ok = am && mpz_set_str(v, am, 10) == 0 && mpz_cmp(v, amount) == 0;
	mpz_clear(v);
	if (!ok)
		return dml_error("the payment's amount is not the price"),
		    CHAIN_REJECT;
	if (memcmp(pto, to, 20) != 0) {
		eth_address_str(to, want);
		return dml_error("the payment went to %s, not to the "
		    "developer's address %s", json_string_value(
		    json_object_get(p, "to")), want), CHAIN_REJECT;
	}
	if (memcmp(pf, from, 20) != 0) {
		eth_address_str(from, want);
		return dml_error("the payment came from %s, not from the "
		    "licensee's address %s", json_string_value(
		    json_object_get(p, "from")), want), CHAIN_REJECT;
	}
	if (!(id = eth_chain_id(c->rpc)))
		return fail(NULL);
	if ((uint64_t)chain_id != id)
		return dml_error("the payment is on chain %lld, the node's "
		    "chain is %llu", (long long)chain_id,
		    (unsigned long long)id), CHAIN_REJECT;
	if ((st = token_of(c, token)) < 0)
		return st;
	if (memcmp(token, pt, 20) != 0) {
		eth_address_str(token, want);
		return dml_error("the payment is in token %s, not in the "
		    "escrow's token %s", json_string_value(json_object_get(p,
		    "token")), want), CHAIN_REJECT;
	}
	if (!(rc = eth_rpc_call(c->rpc, "eth_getTransactionReceipt",
	    json_pack("[s]", tx), NULL)))
		return fail(NULL);
	st = CHAIN_REJECT;
	if (!json_is_object(rc))
		dml_error("transaction %s is not on the chain", tx);
	else if (strcmp(json_string_value(json_object_get(rc, "status")) ?
	    json_string_value(json_object_get(rc, "status")) : "", "0x1") != 0)
		dml_error("transaction %s failed (status 0)", tx);
	else if (!has_transfer(rc, token, from, to, amount)) {
		char *a = mpz_get_str(NULL, 10, amount);
		dml_error("transaction %s is no Transfer of %s tokens to the "
		    "developer", tx, a);
		free(a);
	} else if (eth_quantity_u64(json_object_get(rc, "blockNumber"),
	    &got) < 0 || got != (uint64_t)block)
		dml_error("transaction %s was mined in block %llu, not %lld",
		    tx, (unsigned long long)got, (long long)block);
	else
		st = 0;
	json_decref(rc);
	return st;
}

int
chain_pay_listing(chain *c, const market_listing *l, const char *licensee,
    const char *bookf, json_t **payment)
{
	unsigned char to[20], me[20];
	char a[43], b[43];
	mpz_t price;
	int st;

	*payment = NULL;
	if ((st = chain_payee(bookf, l->developer, to)) < 0 ||
	    (st = chain_payee(bookf, licensee, me)) < 0)
		return dml_error_prefix("listing %s", l->id), st;
	if (!c->has_key)
		return dml_error("paying on chain needs --eth-key FILE"),
		    CHAIN_ESYS;
	if (memcmp(me, c->key.addr, 20) != 0) {
		eth_address_str(c->key.addr, a);
		eth_address_str(me, b);
		return dml_error("the paying key's address %s is not the "
		    "licensee's address %s in %s", a, b, bookf), CHAIN_REJECT;
	}
	mpz_init_set_str(price, l->price, 10);
	st = chain_pay(c, to, price, payment);
	mpz_clear(price);
	if (st < 0)
		dml_error_prefix("listing %s", l->id);
	return st;
}

int
chain_license_paid(const market_license *c, chain *ch,
    const char *bookf)
{
	unsigned char to[20], from[20];
	mpz_t price;
	int st;

	if (!c->pay_chain)
		return dml_error("license %s was paid on the ledger (entry "
		    "%lld), not on chain: verify it with -L", c->id,
		    c->pay_seq), CHAIN_REJECT;
	if ((st = chain_payee(bookf, c->developer, to)) < 0 ||
	    (st = chain_payee(bookf, c->licensee, from)) < 0)
		return dml_error_prefix("license %s", c->id), st;
	mpz_init_set_str(price, c->price, 10);
	st = chain_payment_check(ch, c->pay_chain, from, to, price);
	mpz_clear(price);
	if (st < 0)
		dml_error_prefix("license %s", c->id);
	return st;
}
