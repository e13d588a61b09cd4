/* robust: coordinate-wise median, trimmed mean, Krum, multi-Krum, FLTrust
 * (see robust.h for each rule's cost and assumptions). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robust.h"
#include "util.h"

int
robust_parse(const char *s, robust_rule *r)
{
	char *end;

	memset(r, 0, sizeof *r);
	if (strcmp(s, "mean") == 0) {
		r->kind = ROBUST_MEAN;
		return 0;
	}
	if (strcmp(s, "median") == 0) {
		r->kind = ROBUST_MEDIAN;
		return 0;
	}
	if (strcmp(s, "fltrust") == 0) {
		r->kind = ROBUST_FLTRUST;
		return 0;
	}
	if (strncmp(s, "trimmed:", 8) == 0) {
		r->kind = ROBUST_TRIMMED;
		r->beta = strtod(s + 8, &end);
		if (end == s + 8 || *end || !(r->beta >= 0 && r->beta < 0.5))
			return dml_error("rule %s: BETA must be in [0, 0.5)", s);
		return 0;
	}
	if (strncmp(s, "krum:", 5) == 0) {
		r->kind = ROBUST_KRUM;
		r->f = strtol(s + 5, &end, 10);
		if (end == s + 5 || *end || r->f < 0 || r->f > 1L << 20)
			return dml_error("rule %s: F must be an integer >= 0", s);
		return 0;
	}
	if (strncmp(s, "multikrum:", 10) == 0) {
		r->kind = ROBUST_MULTIKRUM;
		r->f = strtol(s + 10, &end, 10);
		if (end == s + 10 || *end != ':' || r->f < 0 || r->f > 1L << 20)
			return dml_error("rule %s: expected multikrum:F:M", s);
		s = end + 1;
		r->m = strtol(s, &end, 10);
		if (end == s || *end || r->m < 1 || r->m > 1L << 20)
			return dml_error("rule multikrum: M must be an integer "
			    ">= 1");
		return 0;
	}
	return dml_error("unknown rule \"%s\" (mean, median, trimmed:BETA, "
	    "krum:F, multikrum:F:M)", s);
}

const char *
robust_str(const robust_rule *r, char buf[64])
{
	switch (r->kind) {
	case ROBUST_MEAN: snprintf(buf, 64, "mean"); break;
	case ROBUST_MEDIAN: snprintf(buf, 64, "median"); break;
	case ROBUST_TRIMMED: snprintf(buf, 64, "trimmed:%g", r->beta); break;
	case ROBUST_KRUM: snprintf(buf, 64, "krum:%ld", r->f); break;
	case ROBUST_MULTIKRUM:
		snprintf(buf, 64, "multikrum:%ld:%ld", r->f, r->m);
		break;
	case ROBUST_FLTRUST: snprintf(buf, 64, "fltrust"); break;
	}
	return buf;
}

static int
dcmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* Median (trim 0, odd/even handled) or trimmed mean of each column. */
static void
by_coordinate(const double *rows, size_t n, size_t d, size_t trim, int median,
    double *out)
{
	double *col = xmalloc(n * sizeof *col);

	for (size_t j = 0; j < d; j++) {
		for (size_t i = 0; i < n; i++)
			col[i] = rows[i * d + j];
		qsort(col, n, sizeof *col, dcmp);
		if (median) {
			out[j] = n % 2 ? col[n / 2] :
			    (col[n / 2 - 1] + col[n / 2]) / 2;
		} else {
			double s = 0;
			for (size_t i = trim; i < n - trim; i++)
				s += col[i];
			out[j] = s / (double)(n - 2 * trim);
		}
	}
	free(col);
}

static double
dist2(const double *a, const double *b, size_t d)
{
	double s = 0;
	for (size_t j = 0; j < d; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return s;
}

/* score[i]: sum of the n-f-2 smallest squared distances from row i to the
 * others. */
static void
krum_scores(const double *rows, size_t n, size_t d, size_t f, double *score)
{
	double *dd = xmalloc(n * n * sizeof *dd), *tmp = xmalloc(n * sizeof *tmp);
	size_t k = n - f - 2;

	for (size_t i = 0; i < n; i++) {
		dd[i * n + i] = 0;
		for (size_t l = i + 1; l < n; l++)
			dd[i * n + l] = dd[l * n + i] =
			    dist2(rows + i * d, rows + l * d, d);
	}
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		for (size_t l = 0; l < n; l++)
			if (l != i)
				tmp[m++] = dd[i * n + l];
		qsort(tmp, m, sizeof *tmp, dcmp);
		score[i] = 0;
		for (size_t l = 0; l < k; l++)
			score[i] += tmp[l];
	}
	free(dd);
	free(tmp);
}

struct ranked {
	double s;
	size_t i;
};

static int
rcmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;
	if (a->s != b->s)
		return (a->s > b->s) - (a->s < b->s);
	return (a->i > b->i) - (a->i < b->i);	/* ties: input order */
}

int
robust_combine(const robust_rule *r, const double *rows, const double *w,
    size_t n, size_t d, double *out, unsigned char *used)
{
	size_t trim = 0, pick = 0;
	double tw = 0;

	if (n == 0)
		return dml_error("no updates to combine");
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(rows[i]))
			return dml_error("update %zu element %zu is not finite",
			    i / d, i % d);
	if (used)
		memset(used, 1, n);
	memset(out, 0, d * sizeof *out);
	switch (r->kind) {
	case ROBUST_MEAN:
		for (size_t i = 0; i < n; i++)
			tw += w[i];
		if (!(tw > 0))
			return dml_error("the weights sum to %g", tw);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++)
				out[j] += w[i] / tw * rows[i * d + j];
		return 0;
	case ROBUST_MEDIAN:
		by_coordinate(rows, n, d, 0, 1, out);
		return 0;
	case ROBUST_TRIMMED:
		trim = (size_t)floor(r->beta * (double)n);
		if (2 * trim >= n)
			return dml_error("trimmed:%g leaves no update of %zu",
			    r->beta, n);
		by_coordinate(rows, n, d, trim, 0, out);
		return 0;
	case ROBUST_FLTRUST: {
		double *trust;
		int rc;
		if (!r->ref || r->ref_len != d)
			return dml_error("fltrust: the reference has %zu values, "
			    "the updates %zu", r->ref ? r->ref_len : 0, d);
		trust = xmalloc(n * sizeof *trust);
		rc = robust_fltrust(rows, n, d, r->ref, out, trust);
		for (size_t i = 0; used && i < n; i++)
			used[i] = trust[i] > 0;
		free(trust);
		return rc;
	}
	case ROBUST_KRUM:
	case ROBUST_MULTIKRUM:
		break;
	}
	if (n < 2 * (size_t)r->f + 3)
		return dml_error("Krum with F=%ld needs at least %ld updates, "
		    "got %zu", r->f, 2 * r->f + 3, n);
	pick = r->kind == ROBUST_KRUM ? 1 : (size_t)r->m;
	if (pick > n - (size_t)r->f)
		return dml_error("multikrum: M=%ld exceeds n - F = %zu", r->m,
		    n - (size_t)r->f);
	{
		double *score = xmalloc(n * sizeof *score);
		struct ranked *rk = xmalloc(n * sizeof *rk);
		krum_scores(rows, n, d, (size_t)r->f, score);
		for (size_t i = 0; i < n; i++)
			rk[i] = (struct ranked){score[i], i};
		qsort(rk, n, sizeof *rk, rcmp);
		if (used)
			memset(used, 0, n);
		for (size_t k = 0; k < pick; k++)
			tw += r->kind == ROBUST_KRUM ? 1 : w[rk[k].i];
		for (size_t k = 0; k < pick; k++) {
			size_t i = rk[k].i;
			double c = (r->kind == ROBUST_KRUM ? 1 : w[i]) / tw;
			if (used)
				used[i] = 1;
			for (size_t j = 0; j < d; j++)
				out[j] += c * rows[i * d + j];
		}
		free(score);
		free(rk);
		if (!(tw > 0))
			return dml_error("the chosen updates' weights sum to %g",
			    tw);
	}
	return 0;
}

double
robust_cosine(const double *a, const double *b, size_t d)
{
	double ab = 0, aa = 0, bb = 0;

	for (size_t j = 0; j < d; j++) {
		ab += a[j] * b[j];
		aa += a[j] * a[j];
		bb += b[j] * b[j];
	}
	if (aa == 0 || bb == 0)
		return 0;
	return ab / (sqrt(aa) * sqrt(bb));
}

double
robust_trust(const double *g, const double *ref, size_t d, double *cosine)
{
	double gg = 0, c;

	for (size_t j = 0; j < d; j++)
		gg += g[j] * g[j];
	c = robust_cosine(g, ref, d);
	if (cosine)
		*cosine = c;
	/* an infinite norm cannot be rescaled: no trust, whatever c says */
	return isfinite(gg) && c > 0 ? c : 0;
}

int
robust_fltrust(const double *rows, size_t n, size_t d, const double *ref,
    double *out, double *trust)
{
	double r0 = 0, tt = 0;

	for (size_t j = 0; j < d; j++)
		r0 += ref[j] * ref[j];
	if (!(r0 > 0) || !isfinite(r0))
		return dml_error("the reference update is zero or not finite");
	r0 = sqrt(r0);
	memset(out, 0, d * sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const double *g = rows + i * d;
		double gn = 0;
		trust[i] = robust_trust(g, ref, d, NULL);
		if (trust[i] == 0)
			continue;
		for (size_t j = 0; j < d; j++)
			gn += g[j] * g[j];
		gn = sqrt(gn);
		tt += trust[i];
		for (size_t j = 0; j < d; j++)
			out[j] += trust[i] * r0 / gn * g[j];
	}
	if (!(tt > 0))
		return dml_error("no update has a positive cosine with the "
		    "reference");
	for (size_t j = 0; j < d; j++)
		out[j] /= tt;
	return 0;
}
