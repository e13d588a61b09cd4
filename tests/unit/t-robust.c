/* t-robust: the robust rules on small hand-checked matrices. */
#include <math.h>

#include "robust.h"
#include "tap.h"
#include "util.h"

static int
near(const double *a, const double *b, size_t d)
{
	for (size_t j = 0; j < d; j++)
		if (fabs(a[j] - b[j]) > 1e-12)
			return 0;
	return 1;
}

int
main(void)
{
	/* five rows of two values; row 4 is an outlier */
	const double rows[] = {1, 10, 2, 20, 3, 30, 4, 40, 1000, -1000};
	const double w[] = {1, 1, 1, 1, 1};
	double out[2], trust[5];
	unsigned char used[5];
	robust_rule r;
	char b[64];

	ok(robust_parse("median", &r) == 0 && r.kind == ROBUST_MEDIAN,
	    "parse median");
	ok(robust_parse("trimmed:0.2", &r) == 0 && r.beta == 0.2,
	    "parse trimmed:0.2");
	ok(robust_parse("multikrum:1:3", &r) == 0 && r.f == 1 && r.m == 3,
	    "parse multikrum:1:3");
	is_str(robust_str(&r, b), "multikrum:1:3", "multikrum prints back");
	ok(robust_parse("trimmed:0.5", &r) < 0, "trimmed:0.5 refused");
	ok(robust_parse("krum:-1", &r) < 0, "krum:-1 refused");
	ok(robust_parse("medain", &r) < 0, "unknown rule refused");

	robust_parse("median", &r);
	ok(robust_combine(&r, rows, w, 5, 2, out, used) == 0 &&
	    near(out, (double[]){3, 20}, 2), "median of 5 is the middle");
	ok(robust_combine(&r, rows, w, 4, 2, out, NULL) == 0 &&
	    near(out, (double[]){2.5, 25}, 2), "median of 4 averages two");

	robust_parse("trimmed:0.2", &r);
	ok(robust_combine(&r, rows, w, 5, 2, out, NULL) == 0 &&
	    near(out, (double[]){3, 20}, 2), "trimmed:0.2 of 5 drops one each end");
	robust_parse("trimmed:0.1", &r);
	ok(robust_combine(&r, rows, w, 5, 2, out, NULL) == 0 &&
	    near(out, (double[]){202, -180}, 2), "trimmed:0.1 of 5 drops none");

	robust_parse("krum:1", &r);
	ok(robust_combine(&r, rows, w, 5, 2, out, used) == 0 &&
	    near(out, (double[]){2, 20}, 2) && used[1] && !used[4],
	    "krum:1 picks the central row");
	ok(robust_combine(&r, rows, w, 4, 2, out, used) < 0,
	    "krum:1 needs 5 rows");
	robust_parse("multikrum:1:3", &r);
	ok(robust_combine(&r, rows, (double[]){1, 2, 1, 1, 1}, 5, 2, out,
	    used) == 0 && near(out, (double[]){2, 20}, 2) && !used[4] &&
	    !used[3], "multikrum:1:3 weights the three central rows");

	robust_parse("mean", &r);
	ok(robust_combine(&r, rows, (double[]){1, 1, 0, 0, 0}, 5, 2, out,
	    NULL) == 0 && near(out, (double[]){1.5, 15}, 2), "weighted mean");
	ok(robust_combine(&r, (double[]){1, NAN}, w, 1, 2, out, NULL) < 0,
	    "a NaN is refused");

	ok(robust_fltrust(rows, 5, 2, (double[]){1, 10}, out, trust) == 0 &&
	    trust[4] == 0 && fabs(trust[0] - 1) < 1e-12, "FLTrust: outlier "
	    "gets no trust");
	ok(fabs(out[0] - 1) < 1e-12 && fabs(out[1] - 10) < 1e-12,
	    "FLTrust: rows rescaled to the reference norm");
	ok(robust_fltrust(rows, 5, 2, (double[]){0, 0}, out, trust) < 0,
	    "FLTrust: a zero reference is refused");
	{
		double c = 2;
		ok(robust_trust((double[]){1, 1}, (double[]){1, 0}, 2, &c) ==
		    c && fabs(c - sqrt(0.5)) < 1e-15, "trust: the cosine when "
		    "it is positive");
		ok(robust_trust((double[]){-1, 0}, (double[]){1, 0}, 2, &c) ==
		    0 && c == -1, "trust: 0 for a negative cosine, which is "
		    "still told");
		ok(robust_trust((double[]){1e200, 1e200}, (double[]){1, 1}, 2,
		    NULL) == 0, "trust: 0 for an update whose norm overflows");
		ok(robust_trust((double[]){INFINITY, 1}, (double[]){1, 1}, 2,
		    NULL) == 0, "trust: 0 for an infinite element");
	}
	ok(fabs(robust_cosine((double[]){1, 0}, (double[]){0, 1}, 2)) < 1e-15,
	    "cosine of orthogonal vectors is 0");
	return done_testing();
}
