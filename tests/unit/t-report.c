/* t-report: the min-devices rule where reports are made (report_make,
 * report_build), on a small predict aggregate. */
#include <string.h>

#include "report.h"
#include "sign.h"
#include "tap.h"
#include "tensor.h"
#include "util.h"

/* An unsigned predict aggregate of `devices` devices: counts 1, 3 of n 4. */
static json_t *
aggregate(long long devices)
{
	const double hist[2] = {1, 3}, prob[2] = {1.5, 2.5};
	int64_t shape[1] = {2};
	json_t *a = rec_new("dml.aggregate"), *sum = json_object();

	json_object_set_new(sum, "hist", tensor_to_json(DT_F64, 1, shape,
	    hist));
	json_object_set_new(sum, "prob", tensor_to_json(DT_F64, 1, shape,
	    prob));
	json_object_set_new(a, "job", json_string("bafkreireportjob"));
	json_object_set_new(a, "task", json_string("predict"));
	json_object_set_new(a, "round", json_integer(0));
	json_object_set_new(a, "n", json_integer(4));
	json_object_set_new(a, "weight", json_real(4));
	json_object_set_new(a, "devices", json_integer(devices));
	json_object_set_new(a, "results", json_integer(devices));
	json_object_set_new(a, "sum", sum);
	return a;
}

int
main(void)
{
	unsigned char node[32] = {7};
	json_t *agg, *r;
	dml_job j;
	int withheld = -1;

	if (dml_crypto_init() < 0)
		return 1;
	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "bafkreireportjob");
	j.task = TASK_PREDICT;
	j.data = "toy";
	j.classes = 2;
	j.features = 3;
	j.min_devices = 3;

	agg = aggregate(2);
	r = report_make(&j, agg, NULL, node, NULL, &withheld);
	ok(r && withheld == 1, "below min_devices: withheld");
	is_str(json_string_value(json_object_get(r, "type")), "dml.withheld",
	    "the dml.withheld record");
	ok(json_integer_value(json_object_get(r, "min_devices")) == 3 &&
	    json_integer_value(json_object_get(r, "devices")) == 2 &&
	    !json_object_get(r, "result"), "it says why and holds no result");
	json_decref(r);
	ok(report_build(&j, agg, NULL, NULL, 0) == NULL &&
	    strstr(dml_errmsg(), "below the job's min_devices 3"),
	    "report_build refuses it too");
	json_decref(agg);

	agg = aggregate(3);
	r = report_make(&j, agg, NULL, node, NULL, &withheld);
	ok(r && withheld == 0, "at min_devices: a report");
	is_str(json_string_value(json_object_get(r, "type")), "dml.report",
	    "the dml.report record");
	ok(json_object_get(json_object_get(r, "render"), "svg") &&
	    json_string_value(json_object_get(r, "from")) &&
	    strncmp(json_string_value(json_object_get(r, "from")), "07", 2) ==
	    0, "rendered, naming the report node");
	json_decref(r);
	json_object_set_new(agg, "devices", json_string("3"));
	ok(report_make(&j, agg, NULL, node, NULL, &withheld) == NULL &&
	    strstr(dml_errmsg(), "must be an integer"),
	    "a bad device count is an error, not a report");
	json_decref(agg);
	return done_testing();
}
