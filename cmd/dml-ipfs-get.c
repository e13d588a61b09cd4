/* dml-ipfs-get: the bytes of files by CID, from the blockstore or an IPFS
 * node, every block verified; nothing is written unless all were good. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipfs.h"
#include "record.h"
#include "util.h"

static const char usage[] =
"usage: dml-ipfs-get [--repo DIR | --api URL] [--timeout SECONDS]\n"
"                    [-o FILE] CID...\n"
"Write the file with each CID (in base32, as dml-ipfs-put prints it; an\n"
"/ipfs/ prefix is allowed) to standard output, one after the other. Every\n"
"block is checked against its CID and the DAG's sizes against each other;\n"
"nothing is written unless every block of every file was good.\n"
"      --repo DIR       the blockstore directory (default $DML_IPFS_REPO,\n"
"                       else ~/.dml/ipfs)\n"
"      --api URL        fetch from an IPFS node through its RPC API instead,\n"
"                       e.g. http://127.0.0.1:5001 (default $DML_IPFS_API)\n"
"      --timeout SECS   how long the node may take per block (default 60)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n"
"  (-r, -a and -t, the old spellings of --repo, --api and --timeout, still\n"
"  work in this release, with a warning)\n";

enum { O_REPO = CLI_ID_BASE, O_API, O_TIMEOUT };

static const cli_opt opts[] = {
	{"repo", 0, 1, O_REPO, NULL, 'r', NULL},
	{"api", 0, 1, O_API, NULL, 'a', NULL},
	{"timeout", 0, 1, O_TIMEOUT, NULL, 't', NULL},
	CLI_OUTPUT,
	CLI_END};

static int
to_out(void *ctx, const void *p, size_t n)
{
	return rec_out_raw(ctx, p, n);
}

int
main(int argc, char **argv)
{
	const char *repo = NULL, *api = NULL, *outpath = NULL;
	long timeout = -1;
	ipfs_store *st;
	rec_out *out;
	cid *cids;
	int o, n;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case O_REPO: repo = c.arg; break;
		case O_API: api = c.arg; break;
		case O_TIMEOUT: timeout = cli_long(&c, 1, 86400); break;
		case 'o': outpath = c.arg; break;
		}
	}
	if ((n = c.nops) == 0)
		cli_usage_error("no CID given");
	if (repo && api)
		cli_usage_error("give --repo or --api, not both");
	/* every CID is read before anything is fetched */
	cids = xcalloc((size_t)n, sizeof *cids);
	for (int i = 0; i < n; i++) {
		const char *s = cli_operand(&c, i);
		if (strncmp(s, "/ipfs/", 6) == 0)
			s += 6;
		if (cid_parse(&cids[i], s) < 0)
			dml_fail(DML_EXIT_REJECT);
	}
	if (!(st = ipfs_open(repo, api)))
		dml_fail(DML_EXIT_USAGE);
	if (timeout > 0)
		ipfs_set_timeout(st, (int)timeout);
	if (!(out = rec_out_open(outpath)))
		dml_fail(DML_EXIT_USAGE);
	for (int i = 0; i < n; i++) {
		int rc = ipfs_cat(st, &cids[i], to_out, out);
		if (rc < 0) {
			rec_out_abort(out);
			ipfs_close(st);
			free(cids);
			dml_fail(dml_exit_of(rc));
		}
	}
	ipfs_close(st);
	free(cids);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}
