/* dml-ipfs-get: the bytes of files by CID, from the blockstore or an IPFS
 * node, every block verified; nothing is written unless all were good. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
"  -r, --repo DIR       the blockstore directory (default $DML_IPFS_REPO,\n"
"                       else ~/.dml/ipfs)\n"
"  -a, --api URL        fetch from an IPFS node through its RPC API instead,\n"
"                       e.g. http://127.0.0.1:5001 (default $DML_IPFS_API)\n"
"  -t, --timeout SECS   how long the node may take per block (default 60)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

static int
to_out(void *ctx, const void *p, size_t n)
{
	return rec_out_raw(ctx, p, n);
}

int
main(int argc, char **argv)
{
	enum { O_VERSION = 256 };
	static const struct option opts[] = {
		{"repo", required_argument, 0, 'r'},
		{"api", required_argument, 0, 'a'},
		{"timeout", required_argument, 0, 't'},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *repo = NULL, *api = NULL, *outpath = NULL;
	long timeout = -1;
	ipfs_store *st;
	rec_out *out;
	cid *cids;
	int c, n;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:a:t:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'a': api = optarg; break;
		case 't':
			if (dml_parse_long(optarg, 1, 86400, &timeout) < 0)
				dml_usage_error("--timeout: %s", dml_errmsg());
			break;
		case 'o': outpath = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	n = argc - optind;
	if (n == 0)
		dml_usage_error("no CID given");
	if (repo && api)
		dml_usage_error("give --repo or --api, not both");
	/* every CID is read before anything is fetched */
	cids = xcalloc((size_t)n, sizeof *cids);
	for (int i = 0; i < n; i++) {
		const char *s = argv[optind + i];
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
			dml_fail(rc == -2 ? DML_EXIT_USAGE : DML_EXIT_REJECT);
		}
	}
	ipfs_close(st);
	free(cids);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}
