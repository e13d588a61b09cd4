/* t-weight: the binomial tail and the exclusion tests of dml-weight. */
#include <math.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "weight.h"

static weight_trainer
tr(long long answered, long long correct)
{
	weight_trainer t;

	memset(&t, 0, sizeof t);
	t.answered = answered;
	t.correct = correct;
	t.score = (double)correct / (double)answered;
	return t;
}

int
main(void)
{
	weight_opts o = {.min_accuracy = 0.5, .alpha = 1e-3, .z = 3.5,
	    .classes = 10};
	weight_trainer t[8];

	ok(fabs(weight_binom_sf(0, 10, 0.1) - 1) < 1e-15, "P(X >= 0) = 1");
	ok(fabs(weight_binom_sf(10, 10, 0.5) - pow(0.5, 10)) < 1e-15,
	    "P(X >= 10 | 10, 0.5) = 2^-10");
	ok(fabs(weight_binom_sf(1, 3, 0.5) - 0.875) < 1e-12,
	    "P(X >= 1 | 3, 0.5) = 7/8");
	ok(weight_binom_sf(11, 10, 0.5) == 0, "P(X > m) = 0");

	for (int i = 0; i < 5; i++)
		t[i] = tr(40, 36 + i % 3);
	t[5] = tr(40, 0);		/* adversary */
	t[6] = tr(40, 18);		/* below the minimum standard */
	t[7] = tr(4, 4);		/* p = 1e-4: told from chance */
	weight_decide(t, 8, &o);
	ok(t[0].kept && t[1].kept && t[4].kept, "good trainers kept");
	ok(!t[5].kept && strstr(t[5].reason, "minimum"), "adversary excluded "
	    "by the minimum standard first");
	ok(!t[6].kept && strstr(t[6].reason, "minimum"), "below the minimum "
	    "standard excluded");
	ok(t[7].kept, "4 of 4 beats chance at 1e-3 (p = 1e-4)");
	ok(fabs(t[0].weight - (0.9 - 0.1) / 0.9) < 1e-12,
	    "weight is chance-corrected accuracy");
	ok(t[0].factor == 889, "factor is the weight in thousandths");
	ok(t[5].weight == 0 && t[5].factor == 0, "excluded: weight 0");
	o.min_accuracy = 0;
	t[0] = tr(2, 2);		/* p = 0.01 */
	t[1] = tr(40, 4);		/* chance level */
	weight_decide(t, 2, &o);
	ok(!t[0].kept && strstr(t[0].reason, "binomial"), "2 of 2: not told "
	    "from chance at 1e-3");
	ok(!t[1].kept && strstr(t[1].reason, "binomial"), "chance-level "
	    "trainer excluded by the binomial test");
	return done_testing();
}
