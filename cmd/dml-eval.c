/* dml-eval: accuracy and mean cross-entropy of a dml.model on a labelled
 * dataset, as one dml.metrics record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "cli.h"
#include "data.h"
#include "model.h"
#include "record.h"
#include "util.h"

static const char usage[] =
"usage: dml-eval -m MODEL [--idx IMAGES LABELS | --csv FILE [--label COL] |\n"
"                -D DEVICE] [--name NAME] [--round N] [-o FILE]\n"
"Score a dml.model on a labelled dataset and print a dml.metrics record.\n"
"  -m, --model FILE     the model (one dml.model record)\n"
"      --idx IMAGES LABELS  IDX files, gzipped or not (default: the\n"
"                       Fashion-MNIST test set, t10k)\n"
"      --csv FILE       CSV file; --label COL picks the label column\n"
"                       (header name or 0-based index; default last)\n"
"  -D, --device DIR     a device folder written by dml-split (old\n"
"                       spellings -d and --dir still work, with a warning)\n"
"      --name NAME      the \"data\" field (default: the data's file name,\n"
"                       or the device id)\n"
"      --round N        the \"round\" field (default: the model's round)\n"
"      --kept K --excluded E  record the devices the round kept and\n"
"                       excluded (experiments: dml-weight, Krum)\n"
"  -o, --output FILE    write the record to FILE (whole) instead of stdout\n"
"  -h, --help           this help\n"
"      --version        print the version\n";

enum { O_IDX = CLI_ID_BASE, O_CSV, O_LABEL, O_NAME, O_ROUND, O_KEPT, O_EXCL };

static const cli_opt opts[] = {
	CLI_MODEL,
	CLI_OUTPUT,
	{"idx", 0, 1, O_IDX, NULL, 0, NULL},
	{"csv", 0, 1, O_CSV, NULL, 0, NULL},
	{"label", 0, 1, O_LABEL, NULL, 0, NULL},
	{"device", 'D', 1, 0, NULL, 'd', "dir"},
	{"name", 0, 1, O_NAME, NULL, 'n', NULL},
	{"round", 0, 1, O_ROUND, NULL, 'r', NULL},
	{"kept", 0, 1, O_KEPT, NULL, 0, NULL},
	{"excluded", 0, 1, O_EXCL, NULL, 0, NULL},
	CLI_END};

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

static double
round6(double v)
{
	return round(v * 1e6) / 1e6;
}

int
main(int argc, char **argv)
{
	const char *mpath = NULL, *images = NULL, *labels = NULL, *csv = NULL;
	const char *label = NULL, *dir = NULL, *name = NULL, *out = NULL;
	char id[CID_MAXSTR];
	long round = -1, kept = -1, excl = -1;
	dml_model m;
	dml_data d;
	double acc, loss;
	json_t *r;
	int o, rc;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case 'm': mpath = c.arg; break;
		case O_IDX:
			if (c.i >= argc)
				cli_opt_error(&c, "needs IMAGES and LABELS");
			images = c.arg;
			labels = argv[c.i++];
			break;
		case O_CSV: csv = c.arg; break;
		case O_LABEL: label = c.arg; break;
		case 'D': dir = c.arg; break;
		case O_NAME: name = c.arg; break;
		case O_ROUND: round = cli_long(&c, 0, 1L << 40); break;
		case O_KEPT: kept = cli_long(&c, 0, 1L << 40); break;
		case O_EXCL: excl = cli_long(&c, 0, 1L << 40); break;
		case 'o': out = c.arg; break;
		}
	}
	cli_max_operands(&c, 0);
	if (!mpath)
		cli_usage_error("give the model with -m FILE");
	if (strcmp(mpath, "-") == 0)
		cli_usage_error("-m needs a file: the model's id is the CID of "
		    "its bytes");
	if (!!images + !!csv + !!dir > 1)
		cli_usage_error("give one of --idx, --csv or --device");
	if (label && !csv)
		cli_usage_error("--label applies to --csv only");

	if (cid_of_file(mpath, id) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (model_load(&m, mpath) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (dir) {
		rc = data_load_dir(&d, dir);
	} else if (csv) {
		rc = data_load_csv(&d, csv, label);
	} else if (images) {
		rc = data_load_idx(&d, images, labels);
	} else {
		rc = data_load_idx(&d, DEFAULT_DIR "/t10k-images-idx3-ubyte.gz",
		    DEFAULT_DIR "/t10k-labels-idx1-ubyte.gz");
		if (rc == 0 && !name)
			name = "fashion-mnist-t10k";
	}
	if (rc < 0 || model_evaluate(&m, &d, &acc, &loss) < 0)
		dml_fail(DML_EXIT_REJECT);

	r = rec_new("dml.metrics");
	json_object_set_new(r, "model", json_string(id));
	json_object_set_new(r, "data", json_string(name ? name : d.name));
	json_object_set_new(r, "n", json_integer((json_int_t)d.n));
	json_object_set_new(r, "accuracy", json_real(round6(acc)));
	json_object_set_new(r, "loss", json_real(round6(loss)));
	if (round < 0)
		round = m.round;
	if (round >= 0)
		json_object_set_new(r, "round", json_integer(round));
	if (kept >= 0)
		json_object_set_new(r, "devices_kept", json_integer(kept));
	if (excl >= 0)
		json_object_set_new(r, "devices_excluded", json_integer(excl));
	if (rec_out_one(out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	model_free(&m);
	data_free(&d);
	dml_close_stdout();
	return 0;
}
