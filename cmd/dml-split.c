/* dml-split: cut a labelled dataset into device folders (IID, Dirichlet
 * label skew, or a few classes per device), each with its data and a
 * dml.profile, for experiments that simulate devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "record.h"
#include "split.h"
#include "util.h"

static const char usage[] =
"usage: dml-split --devices N -o DIR [--idx IMAGES LABELS | --csv FILE\n"
"                 [--label COL]] [--partition iid|dirichlet|classes]\n"
"                 [--alpha A] [--classes C] [--seed S] [--type NAME]\n"
"                 [--consent-rate P] [--limit K] [--labelling SPEC]\n"
"                 [--malicious F --attack KIND] [--control K]\n"
"Cut a labelled dataset into N device folders DIR/dev-0001 ... holding the\n"
"data and a profile.json; print a dml.split record.\n"
"      --devices N        number of devices (1 to the number of samples)\n"
"  -o, --output DIR       folder to create (absent or empty)\n"
"      --idx IMAGES LABELS  IDX files, gzipped or not (default: the\n"
"                         Fashion-MNIST training set)\n"
"      --csv FILE         CSV file, header optional\n"
"      --label COL        CSV label column: header name or 0-based index\n"
"                         (default: the last column)\n"
"      --partition HOW    iid (default), dirichlet or classes\n"
"      --alpha A          Dirichlet concentration (default 0.5)\n"
"      --classes C        classes per device for --partition classes (2)\n"
"      --seed S           seed (default 0): same inputs, same folders\n"
"      --type NAME        data type name (default fashion-mnist for IDX,\n"
"                         the CSV file's base name for CSV)\n"
"      --consent-rate P   probability a device consents (default 0.9)\n"
"      --limit K          use only the first K samples\n"
"      --labelling SPEC   labelling profiles: PROFILE=FRACTION,... with\n"
"                         PROFILE noisy:P or adversarial (the rest careful),\n"
"                         e.g. noisy:0.3=0.3,adversarial=0.2\n"
"      --malicious F      mark a fraction F of the devices malicious ...\n"
"      --attack KIND      ... sending labelflip, signflip, scale:LAMBDA or\n"
"                         noise:SIGMA updates (dml-run applies them)\n"
"      --control K        hold K samples out of every device: the crowd\n"
"                         control set DIR/control (items, and its answer\n"
"                         key key.ndjson); the record's control.set is\n"
"                         the CID dml-job --control-set takes\n"
"  -h, --help             this help\n"
"      --version          print the version\n"
"The old spellings -n, -p, -a, -c, -s and -t still work, with a warning.\n";

enum { O_DEVICES = CLI_ID_BASE, O_IDX, O_CSV, O_LABEL, O_PART, O_ALPHA,
	O_CLASSES, O_TYPE, O_CONSENT, O_LIMIT, O_LABELLING, O_MAL, O_ATTACK,
	O_CONTROL };

/* The single letters were dml-split's own; they now mean other things in
 * other programs (dml(7)), so the long names are the spelling. */
static const cli_opt opts[] = {
	CLI_OUTPUT,
	{"seed", 0, 1, CLI_SEED, NULL, 's', NULL},
	{"devices", 0, 1, O_DEVICES, NULL, 'n', NULL},
	{"idx", 0, 1, O_IDX, NULL, 0, NULL},
	{"csv", 0, 1, O_CSV, NULL, 0, NULL},
	{"label", 0, 1, O_LABEL, NULL, 0, NULL},
	{"partition", 0, 1, O_PART, NULL, 'p', NULL},
	{"alpha", 0, 1, O_ALPHA, NULL, 'a', NULL},
	{"classes", 0, 1, O_CLASSES, NULL, 'c', NULL},
	{"type", 0, 1, O_TYPE, NULL, 't', NULL},
	{"consent-rate", 0, 1, O_CONSENT, NULL, 0, NULL},
	{"limit", 0, 1, O_LIMIT, NULL, 0, NULL},
	{"labelling", 0, 1, O_LABELLING, NULL, 0, NULL},
	{"malicious", 0, 1, O_MAL, NULL, 0, NULL},
	{"attack", 0, 1, O_ATTACK, NULL, 0, NULL},
	{"control", 0, 1, O_CONTROL, NULL, 0, NULL},
	CLI_END};

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

struct args {
	split_opts s;
	const char *images, *labels, *csv, *label, *lspec;
	long limit;
	double mal;
	int have_atk;
	data_attack atk;
};

static void
option(cli *c, int o, struct args *a)
{
	switch (o) {
	case O_DEVICES: a->s.devices = cli_long(c, 1, 1000000); break;
	case 'o': a->s.out = c->arg; break;
	case O_IDX:
		if (c->i >= c->argc)
			cli_opt_error(c, "needs IMAGES and LABELS");
		a->images = c->arg;
		a->labels = c->argv[c->i++];
		break;
	case O_CSV: a->csv = c->arg; break;
	case O_LABEL: a->label = c->arg; break;
	case O_PART:
		if (data_partition_parse(c->arg, &a->s.how) < 0)
			cli_opt_error(c, "iid, dirichlet or classes, not '%s'",
			    c->arg);
		break;
	case O_ALPHA:
		if (dml_parse_double(c->arg, &a->s.alpha) < 0 ||
		    !(a->s.alpha > 0 && a->s.alpha <= 1e6))
			cli_opt_error(c, "a positive number, not '%s'", c->arg);
		break;
	case O_CLASSES: a->s.cpd = cli_long(c, 1, 65536); break;
	case CLI_SEED:
		a->s.seed = cli_u64(c);
		if (a->s.seed >= 1ULL << 53)	/* split.json holds it */
			cli_opt_error(c, "'%s' is not below 2^53", c->arg);
		break;
	case O_TYPE: a->s.type = c->arg; break;
	case O_CONSENT: a->s.consent = cli_double(c, 0, 1); break;
	case O_LIMIT: a->limit = cli_long(c, 1, 1L << 40); break;
	case O_LABELLING: a->lspec = c->arg; break;
	case O_MAL: a->mal = cli_double(c, 0, 1); break;
	case O_ATTACK:
		if (data_attack_parse(c->arg, &a->atk) < 0)
			cli_opt_error(c, "%s", dml_errmsg());
		a->have_atk = 1;
		break;
	case O_CONTROL: a->s.control = cli_long(c, 1, 999999); break;
	}
}

/* The data type of a CSV file: its base name without the extension. */
static const char *
type_from_path(const char *path)
{
	const char *b = strrchr(path, '/'), *dot;
	static char buf[256];

	b = b ? b + 1 : path;
	snprintf(buf, sizeof buf, "%s", b);
	dot = strrchr(buf, '.');
	if (dot && dot != buf)
		buf[dot - buf] = 0;
	return buf;
}

static void
check(struct args *a)
{
	char *outdir;

	if (!a->s.devices)
		cli_usage_error("give the number of devices with --devices N");
	if (!a->s.out || !*a->s.out)
		cli_usage_error("give the output folder with -o DIR");
	outdir = xstrdup(a->s.out);
	for (size_t n = strlen(outdir); n > 1 && outdir[n - 1] == '/'; n--)
		outdir[n - 1] = 0;	/* DIR/ names DIR: the temporary goes beside it */
	a->s.out = outdir;
	if (a->images && a->csv)
		cli_usage_error("give --idx or --csv, not both");
	if (a->label && !a->csv)
		cli_usage_error("--label applies to --csv only");
	if (!a->images && !a->csv) {
		a->images = DEFAULT_DIR "/train-images-idx3-ubyte.gz";
		a->labels = DEFAULT_DIR "/train-labels-idx1-ubyte.gz";
	}
	if (!a->s.type)
		a->s.type = a->csv ? type_from_path(a->csv) : "fashion-mnist";
	if (!*a->s.type)
		cli_usage_error("--type: empty name");
	if ((a->mal > 0) != a->have_atk)
		cli_usage_error("--malicious F and --attack KIND go together");
}

int
main(int argc, char **argv)
{
	struct args a = {.limit = -1, .atk = {ATTACK_NONE, 0}};
	dml_data d;
	json_t *sum;
	int o, *dev, rc;
	cli c;

	split_opts_init(&a.s);
	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1)
		option(&c, o, &a);
	cli_max_operands(&c, 0);
	check(&a);
	if ((a.lspec || a.mal > 0) &&
	    split_roles(&a.s, a.lspec, a.mal, &a.atk) < 0)
		cli_usage_error("%s", dml_errmsg());
	if (split_check_output(a.s.out) < 0)
		dml_fail(DML_EXIT_USAGE);

	rc = a.csv ? data_load_csv(&d, a.csv, a.label) :
	    data_load_idx(&d, a.images, a.labels);
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	if (a.limit > 0)
		data_truncate(&d, (size_t)a.limit);
	dev = xmalloc(d.n * sizeof *dev);
	if (split_partition(&a.s, &d, dev) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!(sum = split_write(&a.s, &d, dev)))
		dml_fail(DML_EXIT_USAGE);
	if (rec_write(stdout, sum, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(sum);
	free(dev);
	free((char *)a.s.out);
	split_free(&a.s);
	data_free(&d);
	dml_close_stdout();
	return 0;
}
