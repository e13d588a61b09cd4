/* secagg run files: one step of a device or of the node fed with the
 * records of files, its output written only once its state is saved; what
 * dml-encrypt and dml-aggregate call. */

#include "secagg_private.h"
#include "util.h"

static int
run_feed(secagg_dev *d, secagg_node *s, json_t *r, const rec_in *in)
{
	return d ? secagg_dev_feed(d, r, in) : secagg_node_feed(s, r, in);
}

/* Every record of the files to the step; -1 at the first bad one (or
 * unreadable input) unless skip takes it. */
static int
run_inputs(secagg_dev *d, secagg_node *s, void (*skip)(const char *),
    int nfiles, char **files)
{
	json_t *r;
	int got = 0;

	for (int i = 0; got >= 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		if (!in)
			return -1;
		while ((got = rec_next(in, &r)) > 0) {
			int bad = run_feed(d, s, r, in) < 0;
			json_decref(r);
			if (bad && skip)
				skip(dml_errmsg());
			else if (bad) {
				got = -1;
				break;
			}
		}
		rec_close(in);
	}
	return got < 0 ? -1 : 0;
}

int
secagg_run_files(secagg_dev *d, secagg_node *s, const char *out,
    void (*skip)(const char *), int nfiles, char **files)
{
	rec_out *o = NULL;
	json_t *r = NULL;

	if (run_inputs(d, s, skip, nfiles, files) < 0)
		return AGG_EREJECT;
	if (d && !(r = secagg_dev_finish(d)))
		return AGG_EREJECT;
	if (!(o = rec_out_open(out))) {
		json_decref(r);
		return AGG_ESYSTEM;
	}
	if (s && secagg_node_finish(s, o) < 0) {
		rec_out_abort(o);
		return AGG_EREJECT;
	}
	if (d && rec_out_write(o, r, NULL) < 0) {
		json_decref(r);
		rec_out_abort(o);
		return AGG_ESYSTEM;
	}
	json_decref(r);
	if ((d ? secagg_dev_save(d) : secagg_node_save(s)) < 0) {
		rec_out_abort(o);
		return AGG_ESYSTEM;
	}
	/* rec_out_commit frees o, whether it succeeds or not */
	return rec_out_commit(o) < 0 ? AGG_ESYSTEM : 0;
}
