/* cnn: LeNet-style convolutional network on im2col + OpenBLAS sgemm.
 *
 * Activations are kept channel-innermost (row = image position, column =
 * channel), so each convolution is one sgemm of the im2col matrix
 * [positions][cin*5*5] by the weights [cout][cin*5*5] transposed, and its
 * result is already the next layer's input; conv2's patches are
 * [ky][kx][cin], hence its weight layout. The flattened input of the
 * first dense layer is channel-major (c*16 + y*4 + x), as model.h says.
 * The backward pass of each convolution is a scatter from the pooled
 * maxima (back_conv1, back_conv2): about 8x fewer flops than the dense
 * products and no gradient buffer of conv size to clear. */
#include "cnn.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	IMG = 28, KS = 5, KK = KS * KS,
	C1 = 6, S1 = 24, Q1 = 12,	/* conv1 out, pool1 out */
	C2 = 16, S2 = 8, Q2 = 4,	/* conv2 out, pool2 out */
	F0 = C2 * Q2 * Q2, F1 = 120, F2 = 84,
	K2 = C1 * KK			/* conv2 patch */
};

/* Offsets into the flat parameter vector. */
enum {
	OW1 = 0, OB1 = OW1 + C1 * KK,
	OW2 = OB1 + C1, OB2 = OW2 + C2 * K2,
	OF1 = OB2 + C2, OBF1 = OF1 + F1 * F0,
	OF2 = OBF1 + F1, OBF2 = OF2 + F2 * F1,
	OF3 = OBF2 + F2
};

struct cnn_work {
	int batch, classes;
	float *col1, *a1, *p1, *col2, *a2, *f, *h1, *h2, *out;
	int *idx1, *idx2;	/* argmax of each pooled value */
	float *dh2, *dh1, *df, *dp1;
};

size_t
cnn_nparams(int classes)
{
	return (size_t)OF3 + (size_t)classes * F2 + (size_t)classes;
}

static float *
uniform(float *p, size_t n, double lim, dml_rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)((2 * rng_uniform(r) - 1) * lim);
	return p + n;
}

void
cnn_init(float *p, int classes, dml_rng *r)
{
	memset(p, 0, cnn_nparams(classes) * sizeof *p);
	uniform(p + OW1, C1 * KK, sqrt(6.0 / KK), r);
	uniform(p + OW2, C2 * K2, sqrt(6.0 / K2), r);
	uniform(p + OF1, F1 * F0, sqrt(6.0 / F0), r);
	uniform(p + OF2, F2 * F1, sqrt(6.0 / F1), r);
	uniform(p + OF3, (size_t)classes * F2, sqrt(6.0 / (F2 + classes)), r);
}

static float *
fbuf(size_t rows, size_t cols)
{
	return xmalloc(rows * cols * sizeof(float));
}

cnn_work *
cnn_work_new(int classes, int batch)
{
	cnn_work *w = xcalloc(1, sizeof *w);
	size_t b = (size_t)(batch < 1 ? 1 : batch);

	w->batch = (int)b;
	w->classes = classes;
	w->col1 = fbuf(b * S1 * S1, KK);
	w->a1 = fbuf(b * S1 * S1, C1);
	w->p1 = fbuf(b * Q1 * Q1, C1);
	w->idx1 = xmalloc(b * Q1 * Q1 * C1 * sizeof *w->idx1);
	w->col2 = fbuf(b * S2 * S2, K2);
	w->a2 = fbuf(b * S2 * S2, C2);
	w->f = fbuf(b, F0);
	w->idx2 = xmalloc(b * F0 * sizeof *w->idx2);
	w->h1 = fbuf(b, F1);
	w->h2 = fbuf(b, F2);
	w->out = fbuf(b, (size_t)classes);
	w->dh2 = fbuf(b, F2);
	w->dh1 = fbuf(b, F1);
	w->df = fbuf(b, F0);
	w->dp1 = fbuf(b * Q1 * Q1, C1);
	return w;
}

void
cnn_work_free(cnn_work *w)
{
	if (!w)
		return;
	free(w->col1); free(w->a1); free(w->p1); free(w->idx1);
	free(w->col2); free(w->a2); free(w->f); free(w->idx2);
	free(w->h1); free(w->h2); free(w->out);
	free(w->dh2); free(w->dh1); free(w->df); free(w->dp1);
	free(w);
}

/* o = relu(o + bias) on rows of no <= F1 floats. The bias is repeated
 * over T rows so the loop runs over T * no floats at a time and
 * vectorizes even for the 6 channels of conv1. */
static void
bias_relu(float *restrict out, const float *restrict bias, int rows, int no)
{
	enum { T = 8 };
	float rep[T * F1];
	size_t n = (size_t)T * no, r = 0;

	for (int t = 0; t < T; t++)
		memcpy(rep + (size_t)t * no, bias, (size_t)no * sizeof *rep);
	for (; r + T <= (size_t)rows; r += T) {
		float *restrict o = out + r * no;
		for (size_t i = 0; i < n; i++) {
			float v = o[i] + rep[i];
			o[i] = v > 0 ? v : 0;
		}
	}
	for (; r < (size_t)rows; r++)
		for (int j = 0; j < no; j++) {
			float v = out[r * no + j] + bias[j];
			out[r * no + j] = v > 0 ? v : 0;
		}
}

/* out[rows][no] = relu(in[rows][ni] W^T + bias), W [no][ni]; the bias
 * is added after the product, so no per-row copy for the skinny convs. */
static void
dense_relu(float *out, const float *in, const float *W, const float *bias,
    int rows, int no, int ni)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, no, ni,
	    1.0f, in, ni, W, ni, 0.0f, out, no);
	bias_relu(out, bias, rows, no);
}

/* out[rows][no] = in[rows][ni] W^T + bias, W [no][ni]. */
static void
dense(float *out, const float *in, const float *W, const float *bias,
    int rows, int no, int ni)
{
	for (int r = 0; r < rows; r++)
		memcpy(out + (size_t)r * no, bias, (size_t)no * sizeof *out);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, no, ni,
	    1.0f, in, ni, W, ni, 1.0f, out, no);
}

/* Gradients of a dense layer from d[rows][no]: gW = d^T in, gb = column
 * sums of d. */
static void
dense_grad(float *gW, float *gb, const float *d, const float *in, int rows,
    int no, int ni)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, rows,
	    1.0f, d, no, in, ni, 0.0f, gW, ni);
	memset(gb, 0, (size_t)no * sizeof *gb);
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < no; j++)
			gb[j] += d[(size_t)r * no + j];
}

/* din[rows][ni] = d[rows][no] W, zeroed where the layer's relu output
 * a[rows][ni] is 0. */
static void
dense_back(float *din, const float *d, const float *W, const float *a,
    int rows, int no, int ni)
{
	size_t n = (size_t)rows * ni;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, ni, no,
	    1.0f, d, no, W, ni, 0.0f, din, ni);
	for (size_t i = 0; i < n; i++)
		if (!(a[i] > 0))
			din[i] = 0;
}

static void
im2col1(float *col, const float *x, int b)
{
	for (int n = 0; n < b; n++)
		for (int y = 0; y < S1; y++)
			for (int xx = 0; xx < S1; xx++) {
				float *row = col + ((size_t)(n * S1 + y) * S1 +
				    xx) * KK;
				const float *src = x + (size_t)n * IMG * IMG +
				    y * IMG + xx;
				for (int ky = 0; ky < KS; ky++)
					memcpy(row + ky * KS, src + ky * IMG,
					    KS * sizeof *row);
			}
}

/* Patch columns in [ky][kx][cin] order (W2 is [16][5][5][6]): a patch
 * row of the channel-innermost input is then 30 contiguous floats. */
static void
im2col2(float *col, const float *p1, int b)
{
	for (int n = 0; n < b; n++)
		for (int y = 0; y < S2; y++)
			for (int xx = 0; xx < S2; xx++) {
				float *row = col + ((size_t)(n * S2 + y) * S2 +
				    xx) * K2;
				for (int ky = 0; ky < KS; ky++)
					memcpy(row + ky * KS * C1, p1 + ((size_t)(n *
					    Q1 + y + ky) * Q1 + xx) * C1,
					    KS * C1 * sizeof *row);
			}
}

/* 2x2 max pooling of a[b][s][s][c] (s even). out position of (n, y, x,
 * ch) is given by `chw`: 0 keeps [n][y][x][c], 1 flattens [n][c][y][x].
 * The first maximum wins ties. */
static void
maxpool(float *out, int *idx, const float *a, int b, int s, int c, int chw)
{
	int q = s / 2;

	for (int n = 0; n < b; n++)
		for (int y = 0; y < q; y++)
			for (int xx = 0; xx < q; xx++)
			{
				int i0 = ((n * s + 2 * y) * s + 2 * xx) * c;
				int o0 = chw ? n * c * q * q + y * q + xx :
				    ((n * q + y) * q + xx) * c;
				int os = chw ? q * q : 1;
				for (int ch = 0; ch < c; ch++) {
					int i = i0 + ch, best = i;
					float v = a[i];
					if (a[i + c] > v)
						v = a[best = i + c];
					if (a[i + s * c] > v)
						v = a[best = i + s * c];
					if (a[i + s * c + c] > v)
						v = a[best = i + s * c + c];
					out[o0 + ch * os] = v;
					idx[o0 + ch * os] = best;
				}
			}
}

/* y += a x on n floats that do not overlap (restrict lets -O2 use
 * vector instructions here). */
static inline void
axpy(float *restrict y, const float *restrict x, float a, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

/* Back through pool2 and conv2 from df, the gradient of the pooled map.
 * Only a pooled maximum with a positive value passes a gradient, to one
 * position of a2, so both the weight gradient and the patch gradient are
 * sums over those few positions instead of dense products: gW2[c] +=
 * d col2[r], and d W2[c] lands in the 5 rows of 30 floats of dp1 the
 * patch of r came from. */
static void
back_conv2(const float *p, cnn_work *w, int b, float *gW, float *gb)
{
	memset(gW, 0, C2 * K2 * sizeof *gW);
	memset(gb, 0, C2 * sizeof *gb);
	memset(w->dp1, 0, (size_t)b * Q1 * Q1 * C1 * sizeof *w->dp1);
	for (size_t j = 0; j < (size_t)b * F0; j++) {
		float d = w->df[j];
		int r, c, n, y, xx;
		const float *col, *Wc;
		if (!(w->f[j] > 0) || d == 0)
			continue;
		r = w->idx2[j] / C2;
		c = w->idx2[j] % C2;
		n = r / (S2 * S2);
		y = r / S2 % S2;
		xx = r % S2;
		col = w->col2 + (size_t)r * K2;
		Wc = p + OW2 + (size_t)c * K2;
		axpy(gW + c * K2, col, d, K2);
		gb[c] += d;
		for (int ky = 0; ky < KS; ky++)
			axpy(w->dp1 + ((size_t)(n * Q1 + y + ky) * Q1 + xx) *
			    C1, Wc + ky * KS * C1, d, KS * C1);
	}
}

/* Back through pool1 into conv1's weights, the same way. */
static void
back_conv1(cnn_work *w, int b, float *gW, float *gb)
{
	memset(gW, 0, C1 * KK * sizeof *gW);
	memset(gb, 0, C1 * sizeof *gb);
	for (size_t j = 0; j < (size_t)b * Q1 * Q1 * C1; j++) {
		float d = w->dp1[j];
		int r, c;
		const float *col;
		if (!(w->p1[j] > 0) || d == 0)
			continue;
		r = w->idx1[j] / C1;
		c = w->idx1[j] % C1;
		col = w->col1 + (size_t)r * KK;
		axpy(gW + c * KK, col, d, KK);
		gb[c] += d;
	}
}

float *
cnn_forward(const float *p, int classes, cnn_work *w, const float *x, int b)
{
	im2col1(w->col1, x, b);
	dense_relu(w->a1, w->col1, p + OW1, p + OB1, b * S1 * S1, C1, KK);
	maxpool(w->p1, w->idx1, w->a1, b, S1, C1, 0);
	im2col2(w->col2, w->p1, b);
	dense_relu(w->a2, w->col2, p + OW2, p + OB2, b * S2 * S2, C2, K2);
	maxpool(w->f, w->idx2, w->a2, b, S2, C2, 1);
	dense_relu(w->h1, w->f, p + OF1, p + OBF1, b, F1, F0);
	dense_relu(w->h2, w->h1, p + OF2, p + OBF2, b, F2, F1);
	dense(w->out, w->h2, p + OF3, p + OF3 + (size_t)classes * F2, b,
	    classes, F2);
	return w->out;
}

float *
cnn_forward_out(cnn_work *w)
{
	return w->out;
}

void
cnn_backward(const float *p, int classes, cnn_work *w, const int32_t *y,
    int b, float *grad)
{
	float *d = w->out, invb = 1.0f / (float)b;
	size_t C = (size_t)classes;

	for (int r = 0; r < b; r++) {
		d[r * C + (size_t)y[r]] -= 1.0f;
		for (size_t j = 0; j < C; j++)
			d[r * C + j] *= invb;
	}
	dense_grad(grad + OF3, grad + OF3 + C * F2, d, w->h2, b, classes, F2);
	dense_back(w->dh2, d, p + OF3, w->h2, b, classes, F2);
	dense_grad(grad + OF2, grad + OBF2, w->dh2, w->h1, b, F2, F1);
	dense_back(w->dh1, w->dh2, p + OF2, w->h1, b, F2, F1);
	dense_grad(grad + OF1, grad + OBF1, w->dh1, w->f, b, F1, F0);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, F0, F1,
	    1.0f, w->dh1, F1, p + OF1, F0, 0.0f, w->df, F0);
	back_conv2(p, w, b, grad + OW2, grad + OB2);
	back_conv1(w, b, grad + OW1, grad + OB1);
}
