/* dml-market score and award: the entries scored on the hidden test set
 * and ranked, and the prize paid by the ranking. */
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "dml-market.h"
#include "sign.h"
#include "util.h"

/* The hidden test set must be the one the competition committed to. */
static void
test_set(const market_comp *c, dml_data *d)
{
	char img[CID_MAXSTR], lab[CID_MAXSTR];

	if (cid_of_file(mk_need(mk.images, "--images FILE"), img) < 0 ||
	    cid_of_file(mk_need(mk.labels, "--labels FILE"), lab) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (strcmp(img, c->images) != 0 || strcmp(lab, c->labels) != 0)
		dml_die(DML_EXIT_REJECT, "the test set is not the one "
		    "competition %s committed to (images %s, labels %s)",
		    c->id, c->images, c->labels);
	if (data_load_idx(d, mk.images, mk.labels) < 0)
		dml_fail(DML_EXIT_REJECT);
}

static int
add_entry(const rec_in *in, json_t *r, void *ctx)
{
	struct mk_many *m = ctx;

	if (market_entry_from_record(in, r, m->comp, mk_many_next(m)) < 0)
		return -1;
	m->n++;
	return 0;
}

/* Score entries e (in order of arrival) into s: the number scored. A
 * model entered before (by anyone) is not entered again, and one that
 * cannot be scored is disqualified: their ids go to disq. */
static size_t
score_entries(const market_comp *c, const dml_data *d, market_entry *e,
    size_t n, market_score *s, json_t *disq)
{
	size_t ns = 0;

	for (size_t i = 0; i < n; i++) {
		char *buf;
		size_t len;
		int bad = 0;
		for (size_t j = 0; j < i && !bad; j++)
			bad = strcmp(e[j].model, e[i].model) == 0;
		if (bad)
			dml_warn("entry %s: model %s was entered before; "
			    "disqualified", e[i].id, e[i].model);
		else {
			mk_fetch(e[i].model, &buf, &len);
			bad = market_model_score(c, buf, len, d, &s[ns]) < 0;
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
	return ns;
}

int
mk_score(cli *c)
{
	market_comp comp;
	struct mk_many m = {NULL, 0, 0, sizeof(market_entry), &comp};
	market_entry *e;
	market_score *s;
	size_t ns;
	json_t *r, *disq;
	char hex[65];
	dml_data d;
	dml_key k;

	if (market_comp_load(mk_need(mk.competition, "--competition FILE"),
	    &comp) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, hex);
	if (strcmp(hex, comp.customer) != 0)
		dml_die(DML_EXIT_USAGE, "-k: only the competition's customer "
		    "scores it");
	if (mk.now < comp.deadline)
		dml_die(DML_EXIT_REJECT, "competition %s is open until its "
		    "deadline %s", comp.id, json_string_value(json_object_get(
		    comp.rec, "deadline")));
	test_set(&comp, &d);
	mk_each_record(c, add_entry, &m);
	e = m.v;
	market_entries_sort(e, m.n);
	s = xcalloc(m.n ? m.n : 1, sizeof *s);
	disq = json_array();
	ns = score_entries(&comp, &d, e, m.n, s, disq);
	market_rank(s, ns);
	r = market_leaderboard_new(&comp, s, ns, (long long)d.n, disq, mk.now);
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	mk_write(r);
	json_decref(r);
	for (size_t i = 0; i < m.n; i++)
		market_entry_free(&e[i]);
	free(e);
	free(s);
	data_free(&d);
	market_comp_free(&comp);
	return 0;
}

/* The prize paid on the ledger: the same library call as dml-settle
 * --competition. */
int
mk_award(cli *c)
{
	market_comp comp;
	json_t *pr;
	char hash[65];
	long long seq;
	dml_key k;
	int rc;

	cli_max_operands(c, 0);
	if (market_comp_load(mk_need(mk.competition, "--competition FILE"),
	    &comp) < 0)
		dml_fail(DML_EXIT_REJECT);
	mk_need(mk.leaderboard, "--leaderboard FILE");
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if ((rc = market_award_ledger(mk_ledger(), &comp, mk.leaderboard, &k,
	    mk.time, &pr, &seq, hash)) < 0)
		dml_fail(dml_exit_of(rc));
	key_free(&k);
	mk_write(pr);
	json_decref(pr);
	market_comp_free(&comp);
	return 0;
}
