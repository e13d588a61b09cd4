/* dml-eval: accuracy and mean cross-entropy of a dml.model on a labelled
 * dataset, as one dml.metrics record. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "data.h"
#include "model.h"
#include "record.h"
#include "util.h"

static const char usage[] =
"usage: dml-eval -m MODEL [--idx IMAGES LABELS | --csv FILE [--label COL] |\n"
"                --dir DEVICE] [--name NAME] [--round N] [-o FILE]\n"
"Score a dml.model on a labelled dataset and print a dml.metrics record.\n"
"  -m, --model FILE     the model (one dml.model record)\n"
"      --idx IMAGES LABELS  IDX files, gzipped or not (default: the\n"
"                       Fashion-MNIST test set, t10k)\n"
"      --csv FILE       CSV file; --label COL picks the label column\n"
"                       (header name or 0-based index; default last)\n"
"  -d, --dir DEVICE     a device folder written by dml-split\n"
"  -n, --name NAME      the \"data\" field (default: the data's file name,\n"
"                       or the device id)\n"
"  -r, --round N        the \"round\" field (default: the model's round)\n"
"      --kept K --excluded E  record the devices the round kept and\n"
"                       excluded (experiments: dml-weight, Krum)\n"
"  -o, --output FILE    write the record to FILE (whole) instead of stdout\n"
"  -h, --help           this help\n"
"      --version        print the version\n";

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

static double
round6(double v)
{
	return round(v * 1e6) / 1e6;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'},
		{"idx", required_argument, 0, 'I'},
		{"csv", required_argument, 0, 'C'},
		{"label", required_argument, 0, 'L'},
		{"dir", required_argument, 0, 'd'},
		{"name", required_argument, 0, 'n'},
		{"round", required_argument, 0, 'r'},
		{"kept", required_argument, 0, 'K'},
		{"excluded", required_argument, 0, 'E'},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *mpath = NULL, *images = NULL, *labels = NULL, *csv = NULL;
	const char *label = NULL, *dir = NULL, *name = NULL, *out = NULL;
	char id[CID_MAXSTR];
	long round = -1, kept = -1, excl = -1;
	dml_model m;
	dml_data d;
	double acc, loss;
	json_t *r;
	int c, rc;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "m:d:n:r:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mpath = optarg; break;
		case 'I':
			if (optind >= argc)
				dml_usage_error("--idx needs IMAGES and LABELS");
			images = optarg;
			labels = argv[optind++];
			break;
		case 'C': csv = optarg; break;
		case 'L': label = optarg; break;
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'r':
			if (dml_parse_long(optarg, 0, 1L << 40, &round) < 0)
				dml_usage_error("--round: %s", dml_errmsg());
			break;
		case 'K': case 'E': {
			long v;
			if (dml_parse_long(optarg, 0, 1L << 40, &v) < 0)
				dml_usage_error("--%s: %s", c == 'K' ? "kept" :
				    "excluded", dml_errmsg());
			*(c == 'K' ? &kept : &excl) = v;
			break;
		}
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case 'V': dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!mpath)
		dml_usage_error("give the model with -m FILE");
	if (strcmp(mpath, "-") == 0)
		dml_usage_error("-m needs a file: the model's id is the CID of "
		    "its bytes");
	if (!!images + !!csv + !!dir > 1)
		dml_usage_error("give one of --idx, --csv or --dir");
	if (label && !csv)
		dml_usage_error("--label applies to --csv only");

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
