/* dml-ipfs-put: store files, or each record of a stream, in the blockstore
 * or on an IPFS node, and print a dml.stored record with the CID. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipfs.h"
#include "record.h"
#include "util.h"

static const char usage[] =
"usage: dml-ipfs-put [-n] [--each] [--name NAME] [--repo DIR | --api URL]\n"
"                    [--timeout SECONDS] [--no-sync] [-o FILE] [FILE...]\n"
"Store each FILE (none or -: standard input) and print its dml.stored\n"
"record: the CID `ipfs add --cid-version=1 --raw-leaves` gives, the size in\n"
"bytes and the name. Records appear only if every input was stored.\n"
"  -n, --only-hash      compute the CIDs, store nothing\n"
"      --each           the input is records: store each one (its canonical\n"
"                       line and newline) on its own, one dml.stored each,\n"
"                       with \"content\": the record's type\n"
"      --name NAME      the name in the record (one input only)\n"
"      --repo DIR       the blockstore directory (default $DML_IPFS_REPO,\n"
"                       else ~/.dml/ipfs; made on first use)\n"
"      --api URL        store on an IPFS node through its RPC API instead,\n"
"                       e.g. http://127.0.0.1:5001 (default $DML_IPFS_API)\n"
"      --timeout SECS   how long the node may stay silent (default 60)\n"
"      --no-sync        do not flush the blockstore to disk at the end\n"
"  -o, --output FILE    write the records to FILE (whole or not at all)\n"
"  -h, --help, --version\n"
"  (-e, -r, -a and -t, the old spellings of --each, --repo, --api and\n"
"  --timeout, still work in this release, with a warning)\n";

enum { O_EACH = CLI_ID_BASE, O_NAME, O_REPO, O_API, O_TIMEOUT, O_NOSYNC };

static const cli_opt opts[] = {
	{"only-hash", 'n', 0, 0, NULL, 0, NULL},
	{"each", 0, 0, O_EACH, NULL, 'e', NULL},
	{"name", 0, 1, O_NAME, NULL, 0, NULL},
	{"repo", 0, 1, O_REPO, NULL, 'r', NULL},
	{"api", 0, 1, O_API, NULL, 'a', NULL},
	{"timeout", 0, 1, O_TIMEOUT, NULL, 't', NULL},
	{"no-sync", 0, 0, O_NOSYNC, NULL, 0, NULL},
	CLI_OUTPUT,
	CLI_END};

struct opts {
	int flags, each;
	const char *name;
};

static json_t *
stored(const cid *c, uint64_t size, const char *name, const char *content)
{
	char s[CID_MAXSTR];
	json_t *r = rec_new("dml.stored");

	cid_str(c, s);
	json_object_set_new(r, "cid", json_string(s));
	json_object_set_new(r, "size", json_integer((json_int_t)size));
	json_object_set_new(r, "name", json_string(name));
	if (content)
		json_object_set_new(r, "content", json_string(content));
	return r;
}

static int
put_files(ipfs_store *st, const struct opts *o, char **files, int nfiles,
    rec_out *out)
{
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		const char *path = nfiles ? files[i] : "-";
		uint64_t size;
		json_t *r;
		cid c;
		int rc;

		if ((rc = ipfs_add_file(st, path, o->flags, &c, &size)) < 0)
			return dml_exit_of(rc);
		r = stored(&c, size, o->name ? o->name : path, NULL);
		rc = rec_out_write(out, r, NULL);
		json_decref(r);
		if (rc < 0)
			return DML_EXIT_USAGE;
	}
	return 0;
}

/*
 * --each: every record of every input is checked first and its canonical
 * line spooled; only then is anything stored, so bad input stores nothing.
 */
struct spooled {
	char *type;
	int file;		/* index of the input it came from */
};

static int
put_each(ipfs_store *st, const struct opts *o, char **files, int nfiles,
    rec_out *out)
{
	FILE *spool = tmpfile();
	struct spooled *recs = NULL;
	size_t nrec = 0, cap = 0;
	char *line = NULL;
	size_t linecap = 0;
	int status = DML_EXIT_REJECT;

	if (!spool) {
		dml_error("cannot create a spool file: %s", strerror(errno));
		return DML_EXIT_USAGE;
	}
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		json_t *r;
		int rc;

		if (!in)
			goto out;
		while ((rc = rec_next(in, &r)) > 0) {
			size_t len;
			char *canon = NULL;
			int bad = rec_check(in, r, NULL) < 0 ||
			    !(canon = canon_dump(r, in, NULL, &len));
			if (!bad && (fwrite(canon, 1, len, spool) != len ||
			    putc('\n', spool) == EOF)) {
				dml_error("spool: %s", strerror(errno));
				status = DML_EXIT_USAGE;
				bad = 1;
			}
			if (!bad) {
				if (nrec == cap) {
					cap = cap ? 2 * cap : 64;
					recs = xrealloc(recs, cap * sizeof *recs);
				}
				recs[nrec].type = xstrdup(json_string_value(
				    json_object_get(r, "type")));
				recs[nrec++].file = i;
			}
			free(canon);
			json_decref(r);
			if (bad) {
				rc = -1;
				break;
			}
		}
		if (rc == 0 && rec_count(in) == 0)
			rc = dml_error("%s: empty input: no records",
			    rec_name(in));
		rec_close(in);
		if (rc < 0)
			goto out;
	}
	if (fflush(spool) != 0 || fseek(spool, 0, SEEK_SET) != 0) {
		dml_error("spool: %s", strerror(errno));
		status = DML_EXIT_USAGE;
		goto out;
	}
	for (size_t k = 0; k < nrec; k++) {
		ssize_t len = getline(&line, &linecap, spool);
		const char *name;
		json_t *r;
		cid c;
		int rc;

		if (len <= 0) {
			dml_error("spool: %s", len < 0 && ferror(spool) ?
			    strerror(errno) : "short read");
			status = DML_EXIT_USAGE;
			goto out;
		}
		if ((rc = ipfs_add_bytes(st, line, (size_t)len, o->flags,
		    &c)) < 0) {
			status = dml_exit_of(rc);
			goto out;
		}
		name = o->name ? o->name :
		    nfiles ? files[recs[k].file] : "-";
		r = stored(&c, (uint64_t)len, name, recs[k].type);
		rc = rec_out_write(out, r, NULL);
		json_decref(r);
		if (rc < 0) {
			status = DML_EXIT_USAGE;
			goto out;
		}
	}
	status = 0;
out:
	for (size_t k = 0; k < nrec; k++)
		free(recs[k].type);
	free(recs);
	free(line);
	fclose(spool);
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o = {0, 0, NULL};
	const char *repo = NULL, *api = NULL, *outpath = NULL;
	long timeout = -1;
	ipfs_store *st;
	rec_out *out;
	int op, nfiles, status;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((op = cli_next(&c)) != -1) {
		switch (op) {
		case 'n': o.flags |= IPFS_ONLY_HASH; break;
		case O_EACH: o.each = 1; break;
		case O_NAME: o.name = c.arg; break;
		case O_REPO: repo = c.arg; break;
		case O_API: api = c.arg; break;
		case O_TIMEOUT: timeout = cli_long(&c, 1, 86400); break;
		case O_NOSYNC: o.flags |= IPFS_NO_SYNC; break;
		case 'o': outpath = c.arg; break;
		}
	}
	nfiles = c.nops;
	if (repo && api)
		cli_usage_error("give --repo or --api, not both");
	if (o.name && nfiles > 1)
		cli_usage_error("--name names one input, not %d", nfiles);
	if (!(st = ipfs_open(repo, api)))
		dml_fail(DML_EXIT_USAGE);
	if (timeout > 0)
		ipfs_set_timeout(st, (int)timeout);
	if (!(out = rec_out_open(outpath)))
		dml_fail(DML_EXIT_USAGE);
	if (o.each)
		status = put_each(st, &o, c.ops, nfiles, out);
	else
		status = put_files(st, &o, c.ops, nfiles, out);
	ipfs_close(st);
	if (status) {
		rec_out_abort(out);
		dml_fail(status);
	}
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}
