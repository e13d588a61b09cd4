/* tap: a minimal TAP producer for the unit tests of lib/, and the seed
 * of a test's random inputs (tap_seed), so that a failure replays. */
#ifndef DML_TAP_H
#define DML_TAP_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int tap_n, tap_fail;
static int tap_seeded;
static uint64_t tap_seed_value;

#define ok(cond, ...) do { \
	int ok_ = !!(cond); \
	printf("%sok %d - ", ok_ ? "" : "not ", ++tap_n); \
	printf(__VA_ARGS__); \
	printf("\n"); \
	if (!ok_) { tap_fail++; printf("#   failed at %s:%d\n", __FILE__, __LINE__); } \
} while (0)

#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int e_ = g_ && w_ && strcmp(g_, w_) == 0; \
	ok(e_, __VA_ARGS__); \
	if (!e_) printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

/* The seed of this run's random inputs: DML_TEST_SEED when it is set
 * (to replay a run), else a new one. Printed as a TAP comment, and again
 * on stderr (which prove shows) when a test fails. */
static inline uint64_t
tap_seed(void)
{
	const char *e = getenv("DML_TEST_SEED");
	char *end;
	FILE *f;

	if (e && *e) {
		tap_seed_value = strtoull(e, &end, 10);
		if (*end || *e == '-') {
			printf("Bail out! DML_TEST_SEED=%s is not a seed (a "
			    "number from a '# seed' line)\n", e);
			exit(2);
		}
	} else if (!(f = fopen("/dev/urandom", "rb")) ||
	    fread(&tap_seed_value, sizeof tap_seed_value, 1, f) != 1) {
		if (f)
			fclose(f);
		tap_seed_value = (uint64_t)time(NULL) * 2654435761u ^
		    (uint64_t)clock();
	} else {
		fclose(f);
	}
	tap_seeded = 1;
	printf("# seed %" PRIu64 "\n", tap_seed_value);
	return tap_seed_value;
}

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_fail && tap_seeded)
		fprintf(stderr, "# failed with seed %" PRIu64 ": "
		    "DML_TEST_SEED=%" PRIu64 " replays this run\n",
		    tap_seed_value, tap_seed_value);
	return tap_fail ? 1 : 0;
}

#endif
