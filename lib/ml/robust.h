/*
 * robust: attack-resistant combination of per-device model updates.
 *
 * Each rule reads every device's mean update at once (rows of a
 * devices x params matrix, row-major), so memory is O(devices x params):
 * unlike the weighted mean, which streams, a median or Krum cannot be
 * computed one result at a time. The rules and their assumptions:
 *
 *   mean          weighted by the devices' weights; no bad device allowed.
 *                 O(n d).
 *   median        coordinate-wise median, unweighted; tolerates fewer than
 *                 half bad devices per coordinate. O(n d log n).
 *   trimmed:B     coordinate-wise mean after dropping the floor(B n)
 *                 largest and smallest values, 0 <= B < 0.5; tolerates
 *                 up to floor(B n) bad devices. O(n d log n).
 *   krum:F        the one update whose n-F-2 nearest neighbours are
 *                 closest (sum of squared distances); needs n >= 2F + 3
 *                 and at most F bad devices. O(n^2 d).
 *   multikrum:F:M the weighted mean of the M updates of lowest Krum score
 *                 (scores computed once, as in the usual simplification);
 *                 1 <= M <= n - F. O(n^2 d).
 *   fltrust       (robust_fltrust) weights each update by the ReLU of its
 *                 cosine with a trusted reference update computed on the
 *                 common data, rescales it to the reference's norm, and
 *                 averages: sum(t_i g_i |g0|/|g_i|) / sum(t_i).
 *
 * Not for: reading records or encrypted values (aggregate does that and
 * refuses a robust rule on Paillier inputs).
 */
#ifndef DML_ROBUST_H
#define DML_ROBUST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum robust_kind {
	ROBUST_MEAN, ROBUST_MEDIAN, ROBUST_TRIMMED, ROBUST_KRUM,
	ROBUST_MULTIKRUM, ROBUST_FLTRUST
};

typedef struct robust_rule {
	enum robust_kind kind;
	double beta;		/* trimmed */
	long f;			/* krum, multikrum: bad devices tolerated */
	long m;			/* multikrum: updates averaged */
	const double *ref;	/* fltrust: the reference update (borrowed) */
	size_t ref_len;
} robust_rule;

/* "mean", "median", "trimmed:BETA", "krum:F", "multikrum:F:M",
 * "fltrust" (the caller sets ref and ref_len).
 * -1 + dml_error on anything else. */
int robust_parse(const char *s, robust_rule *r);
/* The rule back in the syntax robust_parse reads (a static buffer is
 * not used: buf of 64 bytes). */
const char *robust_str(const robust_rule *r, char buf[64]);

/* Combine n rows of d values (rows[i*d + j]) with weights w (> 0; used
 * by mean and multikrum) into out[d]. `used`, if not NULL, gets 1 for
 * each row that entered the result (Krum and multi-Krum choose; the
 * other rules use every row; FLTrust leaves out the rows of no trust). -1 + dml_error when the rule cannot hold
 * for n (too few devices) or a value is not finite. */
int robust_combine(const robust_rule *r, const double *rows, const double *w,
    size_t n, size_t d, double *out, unsigned char *used);

/* FLTrust: trust[i] = max(0, cos(rows[i], ref)); out = the trust-weighted
 * mean of the rows rescaled to |ref|. -1 + dml_error when the reference
 * is zero or no update has positive trust. */
int robust_fltrust(const double *rows, size_t n, size_t d, const double *ref,
    double *out, double *trust);

/* FLTrust's trust in one update g: the ReLU of its cosine with the
 * reference, max(0, cos(g, ref)), and 0 for an update whose norm is not
 * finite. *cosine, if not NULL, gets the cosine itself. The one rule
 * both robust_fltrust and dml-weight's FLTrust mode (weight) apply. */
double robust_trust(const double *g, const double *ref, size_t d,
    double *cosine);

/* Cosine of two vectors, 0 when either is zero. */
double robust_cosine(const double *a, const double *b, size_t d);

#ifdef __cplusplus
}
#endif

#endif
