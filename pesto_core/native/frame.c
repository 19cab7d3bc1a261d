/*
 * Streaming frames of PESTO in one call per hop: VQT, confidence, volume, encoder, decoding, pitch refinement.
 *
 * The same arithmetic as pesto_core's torch engine (pesto_core/model.py, pesto_core/stream.py,
 * pesto_core/decode.py, pesto_core/refine.py), for one frame at a time, without the per-operation overhead of a
 * tensor library (a streaming hop is ~40 tiny operations). Float32 as the torch engine, except where that engine
 * uses float64 on purpose (confidence head, volume sum, refinement). Results differ from the torch engine by
 * float32 rounding only (summation order); see tests/core/test_native.py for the tolerances.
 *
 * Built at run time by pesto_core/native.py (cc -O3 -march=native) and called through ctypes; every weight array is
 * prepared by Python (pesto_core/native.py: NativeFramePlan) and described by the pt_plan struct below, whose
 * layout native.py mirrors field by field.
 *
 * Layout: the encoder's feature maps are (bins, channels) with the channels innermost and padded to a multiple of
 * 8, so that every inner loop runs over 8 channels at once (GCC/Clang vector extensions: AVX when the CPU has it).
 *
 * Encoder (one frame; C = channels, K = prefilter kernel, N = n_bins_in):
 *   layer norm over the N bins -> conv 1->C (kernel K, direct) -> activation
 *   -> (n_mix times) x = act(conv_CxC(x) + b) + x, the convolution by FFT along the bins: each channel zero-padded
 *      to fft_n >= N + K/2 points (the circular convolution never wraps onto kept bins), complex FFT (radix 2, the
 *      C channels as vector lanes), C x C complex mixing per frequency with the kernels' spectra (1/fft_n folded in),
 *      and the inverse transform as a forward FFT of the conjugate (only its real part is needed)
 *   -> 1x1 convolutions -> Toeplitz layer (its generating vector, reversed: 4 KB) -> softmax -> roll by the
 *      checkpoint's shift.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4), may_alias));

#define PT_MAX_POINT 8
#define PT_ABI_VERSION 5

static inline v8f ld8(const float *p) { return *(const v8f *)p; }
static inline void st8(float *p, v8f v) { *(v8f *)p = v; }
static inline v8f splat8(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
static inline float hsum8(v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

typedef struct {
    /* --- VQT: bin k uses taps [bin_start[k], bin_start[k] + bin_len[k]) of the window; its real and imaginary
     *     weights (sqrt(l_k) folded in) start at vqt_re + bin_off[k], vqt_im + bin_off[k]. */
    int32_t n_bins, taps;
    const int32_t *bin_start, *bin_len;
    const int64_t *bin_off;
    const float *vqt_re, *vqt_im;
    /* --- front: dB -> natural log power, layer norm over the cropped bins */
    int32_t crop0, n_in;
    float ln10_over_10, ln_eps, db_floor;
    const float *ln_w, *ln_b;
    /* --- activation: 0 leaky (slope), 1 relu, 2 silu */
    int32_t act;
    float slope;
    /* --- prefilter: ch channels (multiple of 8), kernel ksize, n_mix FFT layers of fft_n = 2^fft_log2 points */
    int32_t ch, ksize, n_mix, fft_n, fft_log2;
    const float *conv1_w;   /* (ksize, ch) */
    const float *conv1_b;   /* (ch,) */
    const float *mix_h;     /* (n_mix, fft_n/2 + 1, ch_in, 2, ch_out): Re H, Im H, times 1/fft_n */
    const float *mix_b;     /* (n_mix, ch) */
    const float *twiddle;   /* (fft_n/2 + 1, 2): cos(2 pi j / fft_n), -sin(2 pi j / fft_n) */
    const int32_t *bitrev;  /* (fft_n/2,): bit reversal of the half-size complex transforms */
    /* --- 1x1 convolutions: p_in[i] -> p_out[i] channels (multiples of 8), weights (in, out), bias (out,) */
    int32_t n_point;
    int32_t p_in[PT_MAX_POINT], p_out[PT_MAX_POINT];
    const float *p_w[PT_MAX_POINT], *p_b[PT_MAX_POINT];
    /* --- Toeplitz layer: c_last real channels (of the last p_out), out[j] = sum_i x_i * fc_rev[fc_in - 1 - i + j]
     *     with x_i = channel i / n_in, bin i % n_in; fc_rev has fc_in + n_out - 1 (+ 8 zero) values */
    int32_t c_last, n_out, roll;
    const float *fc_rev;
    /* --- confidence head (float64): conv of conf_k taps, stride conf_stride, conf_n outputs; linear on them and the
     *     spectral flatness */
    int32_t conf_k, conf_stride, conf_n;
    const double *conf_w, *lin_w;
    double conf_b, lin_b;
    /* --- decoding: 0 alwa, 1 argmax, 2 mean; bins per semitone */
    int32_t reduction, bps;
    /* --- learned voicing output (pesto_core/voicing_head.py), float64: if has_voicing, the confidence becomes
     *     sigmoid(voice_w . [logit(conf), logit(peak mass), entropy] + voice_b) */
    int32_t has_voicing;
    double voice_w[3];
    double voice_b;
    /* --- scratch (float32), at least pt_work_floats(plan) values */
    float *work;
    int64_t work_len;
} pt_plan;

int pt_abi_version(void) { return PT_ABI_VERSION; }

/* scratch layout (floats) */
static int64_t off_vqt(const pt_plan *p) { (void)p; return 0; }
static int64_t off_lp(const pt_plan *p) { return off_vqt(p) + 2 * (int64_t)p->n_bins; }
static int64_t off_x(const pt_plan *p) { return off_lp(p) + 2 * (int64_t)p->n_bins; }
static int64_t max_ch(const pt_plan *p) {
    int64_t m = p->ch;
    for (int i = 0; i < p->n_point; i++) m = p->p_out[i] > m ? p->p_out[i] : m;
    return m;
}
static int64_t off_y(const pt_plan *p) { return off_x(p) + (int64_t)p->n_in * max_ch(p) + 8; }
static int64_t off_fft(const pt_plan *p) { return off_y(p) + (int64_t)p->n_in * max_ch(p) + 8; }
static int64_t off_stage(const pt_plan *p) { return off_fft(p) + (int64_t)p->fft_n * p->ch; }
static int64_t off_logits(const pt_plan *p) { return off_stage(p) + 2 * (int64_t)(p->fft_n / 2 + 1) * 2 * p->ch; }
static int64_t off_flat(const pt_plan *p) { return off_logits(p) + (int64_t)p->n_out + 8; }
static int64_t work_total(const pt_plan *p) { return off_flat(p) + (int64_t)p->c_last * p->n_in + 8; }

int64_t pt_work_floats(const pt_plan *p) { return work_total(p); }

/* ------------------------------------------------------------------------------------------------ VQT */
/* vqt: (2, n_bins) real parts then imaginary parts */
static void vqt_frame(const pt_plan *p, const float *x, float *vqt) {
    for (int k = 0; k < p->n_bins; k++) {
        const float *xs = x + p->bin_start[k];
        const float *wr = p->vqt_re + p->bin_off[k];
        const float *wi = p->vqt_im + p->bin_off[k];
        int n = p->bin_len[k], j = 0;
        v8f r0 = splat8(0), r1 = splat8(0), i0 = splat8(0), i1 = splat8(0);
        for (; j + 16 <= n; j += 16) {
            v8f a = ld8(xs + j), b = ld8(xs + j + 8);
            r0 += a * ld8(wr + j);
            i0 += a * ld8(wi + j);
            r1 += b * ld8(wr + j + 8);
            i1 += b * ld8(wi + j + 8);
        }
        float re = hsum8(r0 + r1), im = hsum8(i0 + i1);
        for (; j < n; j++) {
            re += xs[j] * wr[j];
            im += xs[j] * wi[j];
        }
        vqt[k] = re;
        vqt[p->n_bins + k] = im;
    }
}

/* ------------------------------------------------------------------------------------------------ encoder parts */
static inline float activate(const pt_plan *p, float v) {
    if (p->act == 0) return v > 0.0f ? v : v * p->slope;
    if (p->act == 1) return v > 0.0f ? v : 0.0f;
    return v / (1.0f + expf(-v));
}

/* leaky ReLU / ReLU on 8 values by a bitwise select (a plain ternary is not vectorised without -ffast-math) */
static inline v8f leaky8(v8f v, v8f slope) {
    v8i pos = v > splat8(0.0f);
    return (v8f)(((v8i)v & pos) | ((v8i)(v * slope) & ~pos));
}

static void activate_array(const pt_plan *p, float *x, int64_t n) {
    if (p->act <= 1) {
        const v8f s = splat8(p->act == 0 ? p->slope : 0.0f);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) st8(x + i, leaky8(ld8(x + i), s));
        for (; i < n; i++) x[i] = activate(p, x[i]);
    } else {
        for (int64_t i = 0; i < n; i++) x[i] = activate(p, x[i]);
    }
}

/* out[r][o] = act(bias[o] + sum_{i < k} a[r * sr + i] * w[i * cout + o]) for r < rows, o < cout (multiple of 8).
 * Four rows and two 8-channel vectors at a time: eight independent accumulators (enough to hide the FMA latency),
 * six loads per eight FMAs. Used by the first prefilter convolution (a = zero-padded input, sr = 1) and by the 1x1
 * convolutions (a = feature map, sr = cin). */
static void dense_rows(const pt_plan *p, const float *a, int64_t sr, int rows, int k, const float *w, int cout,
                       const float *bias, float *out) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *a0 = a + r * sr, *a1 = a0 + sr, *a2 = a1 + sr, *a3 = a2 + sr;
        float *o0 = out + (int64_t)r * cout;
        int v = 0;
        for (; v + 16 <= cout; v += 16) {
            v8f c00 = ld8(bias + v), c01 = ld8(bias + v + 8);
            v8f c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
            for (int i = 0; i < k; i++) {
                const v8f w0 = ld8(w + (int64_t)i * cout + v), w1 = ld8(w + (int64_t)i * cout + v + 8);
                v8f s = splat8(a0[i]);
                c00 += s * w0;
                c01 += s * w1;
                s = splat8(a1[i]);
                c10 += s * w0;
                c11 += s * w1;
                s = splat8(a2[i]);
                c20 += s * w0;
                c21 += s * w1;
                s = splat8(a3[i]);
                c30 += s * w0;
                c31 += s * w1;
            }
            st8(o0 + v, c00);
            st8(o0 + v + 8, c01);
            st8(o0 + cout + v, c10);
            st8(o0 + cout + v + 8, c11);
            st8(o0 + 2 * cout + v, c20);
            st8(o0 + 2 * cout + v + 8, c21);
            st8(o0 + 3 * cout + v, c30);
            st8(o0 + 3 * cout + v + 8, c31);
        }
        for (; v < cout; v += 8) {
            v8f c0 = ld8(bias + v), c1 = c0, c2 = c0, c3 = c0;
            for (int i = 0; i < k; i++) {
                const v8f w0 = ld8(w + (int64_t)i * cout + v);
                c0 += splat8(a0[i]) * w0;
                c1 += splat8(a1[i]) * w0;
                c2 += splat8(a2[i]) * w0;
                c3 += splat8(a3[i]) * w0;
            }
            st8(o0 + v, c0);
            st8(o0 + cout + v, c1);
            st8(o0 + 2 * cout + v, c2);
            st8(o0 + 3 * cout + v, c3);
        }
    }
    for (; r < rows; r++) {
        const float *a0 = a + r * sr;
        for (int v = 0; v < cout; v += 8) {
            v8f c0 = ld8(bias + v);
            for (int i = 0; i < k; i++) c0 += splat8(a0[i]) * ld8(w + (int64_t)i * cout + v);
            st8(out + (int64_t)r * cout + v, c0);
        }
    }
    activate_array(p, out, (int64_t)rows * cout);
}

/* layer norm (float64 moments), then the first prefilter convolution 1 -> ch (kernel ksize, zero padding ksize/2),
 * bias, activation. lp: (n_in,) log power; padded: (n_in + ksize - 1,) scratch; out: (n_in, ch) */
static void front(const pt_plan *p, const float *lp, float *padded, float *out) {
    const int n = p->n_in, half = p->ksize / 2;
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += lp[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (lp[i] - mean) * (lp[i] - mean);
    var /= n;
    const float m = (float)mean, rstd = (float)(1.0 / sqrt(var + p->ln_eps));
    memset(padded, 0, sizeof(float) * (size_t)(n + p->ksize - 1));
    for (int i = 0; i < n; i++) padded[half + i] = (lp[i] - m) * rstd * p->ln_w[i] + p->ln_b[i];
    dense_rows(p, padded, 1, n, p->ksize, p->conv1_w, p->ch, p->conv1_b, out);
}

/* In-place radix-2 FFT (forward: exp(-i ...)) of size h = fft_n / 2 over ch interleaved channels, input already in
 * bit-reversed order. re, im: (h, ch). Twiddles: the fft_n-point table,
 * exp(-2 pi i j / len) = table[j * fft_n / len]. */
static void fft_channels(const pt_plan *p, float *re, float *im) {
    const int n = p->fft_n, h = p->fft_n / 2, ch = p->ch;
    for (int a = 0; a < h; a += 2) {  /* first stage: twiddle 1 */
        float *ar = re + (int64_t)a * ch, *ai = im + (int64_t)a * ch, *br = ar + ch, *bi = ai + ch;
        for (int v = 0; v < ch; v += 8) {
            v8f xr = ld8(ar + v), xi = ld8(ai + v), yr = ld8(br + v), yi = ld8(bi + v);
            st8(ar + v, xr + yr);
            st8(ai + v, xi + yi);
            st8(br + v, xr - yr);
            st8(bi + v, xi - yi);
        }
    }
    for (int len = 4; len <= h; len <<= 1) {
        const int half = len >> 1, step = n / len;
        for (int start = 0; start < h; start += len) {
            for (int j = 0; j < half; j++) {
                const v8f wr = splat8(p->twiddle[2 * j * step]), wi = splat8(p->twiddle[2 * j * step + 1]);
                float *ar = re + (int64_t)(start + j) * ch, *ai = im + (int64_t)(start + j) * ch;
                float *br = ar + (int64_t)half * ch, *bi = ai + (int64_t)half * ch;
                for (int v = 0; v < ch; v += 8) {
                    v8f yr = ld8(br + v), yi = ld8(bi + v);
                    v8f tr = wr * yr - wi * yi, ti = wr * yi + wi * yr;
                    v8f xr = ld8(ar + v), xi = ld8(ai + v);
                    st8(ar + v, xr + tr);
                    st8(ai + v, xi + ti);
                    st8(br + v, xr - tr);
                    st8(bi + v, xi - ti);
                }
            }
        }
    }
}

/* Channel mixing at every frequency: mixed[f] = sum_i spec[f][i] * H[f][i] (complex; spec/mixed: (nf, 2, ch),
 * H: (nf, ch_in, 2, ch_out)). Any ch (multiple of 8), one output vector at a time: the general case, for
 * prefilters wider than the fixed-size forms below. */
static void mix_any(const float *spec, const float *hmat, float *mixed, int nf, int ch) {
    for (int f = 0; f < nf; f++) {
        const float *xr = spec + (int64_t)f * 2 * ch, *xi = xr + ch;
        const float *hf = hmat + (int64_t)f * ch * 2 * ch;
        float *out = mixed + (int64_t)f * 2 * ch;
        for (int v = 0; v < ch; v += 8) {
            v8f re = splat8(0), im = splat8(0);
            for (int i = 0; i < ch; i++) {
                const v8f sr = splat8(xr[i]), si = splat8(xi[i]);
                const v8f a = ld8(hf + (int64_t)i * 2 * ch + v), b = ld8(hf + (int64_t)i * 2 * ch + ch + v);
                re += sr * a;
                re -= si * b;
                im += sr * b;
                im += si * a;
            }
            st8(out + v, re);
            st8(out + ch + v, im);
        }
    }
}

/* The same for ch = 8 * NV, all NV output vectors in one pass over the inputs: 2 * NV accumulators in registers,
 * each input broadcast once (fewer loads than two output vectors at a time). */
#define PT_MIX_FIXED(NV)                                                                                      \
    static void mix_##NV(const float *spec, const float *hmat, float *mixed, int nf) {                         \
        const int ch = 8 * (NV);                                                                              \
        for (int f = 0; f < nf; f++) {                                                                        \
            const float *xr = spec + (int64_t)f * 2 * ch, *xi = xr + ch;                                      \
            const float *hf = hmat + (int64_t)f * ch * 2 * ch;                                                \
            v8f re[NV], im[NV];                                                                               \
            for (int v = 0; v < (NV); v++) re[v] = im[v] = splat8(0);                                         \
            for (int i = 0; i < ch; i++) {                                                                    \
                const v8f sr = splat8(xr[i]), si = splat8(xi[i]);                                             \
                const float *hr = hf + (int64_t)i * 2 * ch, *hi = hr + ch;                                    \
                for (int v = 0; v < (NV); v++) {                                                              \
                    const v8f a = ld8(hr + 8 * v), b = ld8(hi + 8 * v);                                       \
                    re[v] += sr * a;                                                                          \
                    re[v] -= si * b;                                                                          \
                    im[v] += sr * b;                                                                          \
                    im[v] += si * a;                                                                          \
                }                                                                                             \
            }                                                                                                 \
            float *out = mixed + (int64_t)f * 2 * ch;                                                         \
            for (int v = 0; v < (NV); v++) {                                                                  \
                st8(out + 8 * v, re[v]);                                                                      \
                st8(out + ch + 8 * v, im[v]);                                                                 \
            }                                                                                                 \
        }                                                                                                     \
    }
PT_MIX_FIXED(1)
PT_MIX_FIXED(2)
PT_MIX_FIXED(3)
PT_MIX_FIXED(4)
PT_MIX_FIXED(5)
PT_MIX_FIXED(6)

/* One prefilter layer by FFT: x <- act(conv(x) + b) + x.
 *
 * Real transforms of n = fft_n points through complex ones of h = n/2 points: z[m] = x[2m] + i x[2m+1],
 * Z = FFT_h(z), X[f] = E[f] + W^f O[f] (f = 0..h, W = exp(-2 pi i / n)) with E = (Z[f] + conj Z[h-f]) / 2 and
 * O = (Z[f] - conj Z[h-f]) / 2i. Back: with Y[f] (f = 0..h, 1/n folded into the spectra), y[2m] + i y[2m+1] =
 * IFFT_h(Ze + i Zo) unnormalised, Ze = Y[f] + conj Y[h-f], Zo = (Y[f] - conj Y[h-f]) W^-f; the unnormalised
 * inverse is conj(FFT_h(conj(.))).
 *
 * x: (n_in, ch); re/im: (h, ch) scratch; spec, mixed: (h + 1, 2, ch) scratch. */
static void prefilter_layer(const pt_plan *p, int layer, float *x, float *spec, float *mixed, float *re, float *im) {
    const int n = p->fft_n, h = n / 2, ch = p->ch, nf = h + 1, n_in = p->n_in;
    memset(re, 0, sizeof(float) * (size_t)h * ch);
    memset(im, 0, sizeof(float) * (size_t)h * ch);
    for (int m = 0; m < h && 2 * m < n_in; m++) {
        memcpy(re + (int64_t)p->bitrev[m] * ch, x + (int64_t)(2 * m) * ch, sizeof(float) * ch);
        if (2 * m + 1 < n_in)
            memcpy(im + (int64_t)p->bitrev[m] * ch, x + (int64_t)(2 * m + 1) * ch, sizeof(float) * ch);
    }
    fft_channels(p, re, im);
    const v8f half = splat8(0.5f);
    for (int f = 0; f < nf; f++) {
        const int g = (h - f) % h, fz = f % h;
        const v8f wr = splat8(p->twiddle[2 * f]), wi = splat8(p->twiddle[2 * f + 1]);
        const float *ar = re + (int64_t)fz * ch, *ai = im + (int64_t)fz * ch;
        const float *cr = re + (int64_t)g * ch, *ci = im + (int64_t)g * ch;
        float *xr = spec + (int64_t)f * 2 * ch, *xi = xr + ch;
        for (int v = 0; v < ch; v += 8) {
            v8f a = ld8(ar + v), b = ld8(ai + v), c = ld8(cr + v), d = -ld8(ci + v);  /* Z[f], conj Z[h-f] */
            v8f er = half * (a + c), ei = half * (b + d);
            v8f or_ = half * (b - d), oi = half * (c - a);
            st8(xr + v, er + wr * or_ - wi * oi);
            st8(xi + v, ei + wr * oi + wi * or_);
        }
    }
    const float *hmat = p->mix_h + (int64_t)layer * nf * ch * 2 * ch;
    switch (ch / 8) {  /* one pass over the inputs with every output vector in registers (up to 48 channels) */
        case 1: mix_1(spec, hmat, mixed, nf); break;
        case 2: mix_2(spec, hmat, mixed, nf); break;
        case 3: mix_3(spec, hmat, mixed, nf); break;
        case 4: mix_4(spec, hmat, mixed, nf); break;
        case 5: mix_5(spec, hmat, mixed, nf); break;
        case 6: mix_6(spec, hmat, mixed, nf); break;
        default: mix_any(spec, hmat, mixed, nf, ch);
    }
    for (int f = 0; f < h; f++) {
        const v8f wr = splat8(p->twiddle[2 * f]), wi = splat8(-p->twiddle[2 * f + 1]);  /* W^-f */
        const float *yr = mixed + (int64_t)f * 2 * ch, *yi = yr + ch;
        const float *cr = mixed + (int64_t)(h - f) * 2 * ch, *ci = cr + ch;
        float *dr = re + (int64_t)p->bitrev[f] * ch, *di = im + (int64_t)p->bitrev[f] * ch;
        for (int v = 0; v < ch; v += 8) {
            v8f a = ld8(yr + v), b = ld8(yi + v), c = ld8(cr + v), d = -ld8(ci + v);  /* Y[f], conj Y[h-f] */
            v8f er = a + c, ei = b + d, dr_ = a - c, di_ = b - d;
            v8f or_ = dr_ * wr - di_ * wi, oi = dr_ * wi + di_ * wr;
            st8(dr + v, er - oi);       /* conj(Ze + i Zo) */
            st8(di + v, -(ei + or_));
        }
    }
    fft_channels(p, re, im);
    const float *bias = p->mix_b + (int64_t)layer * ch;
    float *y = spec;  /* (n_in, ch): the spectra are no longer needed */
    for (int b = 0; b < n_in; b++) {
        const float *r = (b & 1) ? im + (int64_t)(b >> 1) * ch : re + (int64_t)(b >> 1) * ch;
        const v8f sign = splat8((b & 1) ? -1.0f : 1.0f);
        for (int v = 0; v < ch; v += 8) st8(y + (int64_t)b * ch + v, sign * ld8(r + v) + ld8(bias + v));
    }
    activate_array(p, y, (int64_t)n_in * ch);
    for (int64_t i = 0; i < (int64_t)n_in * ch; i += 8) st8(x + i, ld8(x + i) + ld8(y + i));
}

/* 1x1 convolution: x (n_in, cin) -> y (n_in, cout), bias, activation */
static void pointwise(const pt_plan *p, int layer, const float *x, float *y) {
    dense_rows(p, x, p->p_in[layer], p->n_in, p->p_in[layer], p->p_w[layer], p->p_out[layer], p->p_b[layer], y);
}

/* Toeplitz layer: logits[j] = sum_i flat[i] * fc_rev[fc_in - 1 - i + j], j < n_out (n_out multiple of 8 here or
 * tail handled by the zero padding of fc_rev and of logits) */
static void toeplitz(const pt_plan *p, const float *flat, float *logits) {
    const int fc_in = p->c_last * p->n_in, n_out = p->n_out;
    int j = 0;
    for (; j + 64 <= n_out; j += 64) {
        v8f a0 = splat8(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int i = 0; i < fc_in; i++) {
            const v8f s = splat8(flat[i]);
            const float *r = p->fc_rev + (fc_in - 1 - i) + j;
            a0 += s * ld8(r);
            a1 += s * ld8(r + 8);
            a2 += s * ld8(r + 16);
            a3 += s * ld8(r + 24);
            a4 += s * ld8(r + 32);
            a5 += s * ld8(r + 40);
            a6 += s * ld8(r + 48);
            a7 += s * ld8(r + 56);
        }
        st8(logits + j, a0);
        st8(logits + j + 8, a1);
        st8(logits + j + 16, a2);
        st8(logits + j + 24, a3);
        st8(logits + j + 32, a4);
        st8(logits + j + 40, a5);
        st8(logits + j + 48, a6);
        st8(logits + j + 56, a7);
    }
    for (; j < n_out; j += 8) {  /* logits has 8 spare values; fc_rev 8 trailing zeros */
        v8f a0 = splat8(0);
        for (int i = 0; i < fc_in; i++) a0 += splat8(flat[i]) * ld8(p->fc_rev + (fc_in - 1 - i) + j);
        st8(logits + j, a0);
    }
}

/* ------------------------------------------------------------------------------------------------ one frame */
static float confidence(const pt_plan *p, const float *power, const float *log_power) {
    const int n = p->n_bins;
    double sum_lp = 0, sum_p = 0;
    for (int i = 0; i < n; i++) {
        sum_lp += log_power[i];
        sum_p += power[i];
    }
    double mean_p = sum_p / n;
    double flatness = exp(sum_lp / n) / (mean_p > 1e-8 ? mean_p : 1e-8);
    double logit = p->lin_b + p->lin_w[p->conf_n] * flatness;
    for (int j = 0; j < p->conf_n; j++) {
        double acc = p->conf_b;
        const float *s = power + (int64_t)j * p->conf_stride;
        for (int t = 0; t < p->conf_k; t++) acc += p->conf_w[t] * (double)s[t];
        logit += p->lin_w[j] * (acc > 0 ? acc : 0.0);
    }
    return (float)(1.0 / (1.0 + exp(-logit)));
}

/* pesto_core.voicing_head.VoicingHead on one frame: conf the head's output, act the (rolled) distribution */
static float learned_voicing(const pt_plan *p, float conf, const float *act) {
    const int n = p->n_out, bps = p->bps;
    int c = 0;
    for (int j = 1; j < n; j++)
        if (act[j] > act[c]) c = j;  /* the first maximum, as argmax */
    double total = 0, near = 0;
    for (int j = 0; j < n; j++) total += (double)act[j];
    for (int j = c - bps < 0 ? 0 : c - bps; j <= (c + bps > n - 1 ? n - 1 : c + bps); j++) near += (double)act[j];
    const double safe = total > 1e-12 ? total : 1e-12;
    double mass = total > 1e-12 ? near / safe : 0.0, entropy = 0;
    for (int j = 0; j < n; j++) {
        double q = (double)act[j] / safe;
        entropy -= q * log(q > 1e-12 ? q : 1e-12);
    }
    const double eps = 1e-4;
    double cc = (double)conf, m = mass;
    cc = cc < eps ? eps : (cc > 1 - eps ? 1 - eps : cc);
    m = m < eps ? eps : (m > 1 - eps ? 1 - eps : m);
    double z = p->voice_w[0] * (log(cc) - log1p(-cc)) + p->voice_w[1] * (log(m) - log1p(-m)) + p->voice_w[2] * entropy;
    z += p->voice_b;
    return (float)(1.0 / (1.0 + exp(-z)));
}

static float decode(const pt_plan *p, const float *act) {
    const int n = p->n_out, bps = p->bps;
    int c = 0;
    for (int j = 1; j < n; j++)
        if (act[j] > act[c]) c = j;
    if (p->reduction == 1) return (float)c / (float)bps;
    if (p->reduction == 2) {
        float s = 0;
        for (int j = 0; j < n; j++) s += act[j] * ((float)j / (float)bps);
        return s;
    }
    float num = 0, den = 0;
    for (int o = -bps + 1; o < bps; o++) {
        int idx = c + o < 0 ? 0 : (c + o > n - 1 ? n - 1 : c + o);
        num += act[idx] * ((float)idx / (float)bps);
        den += act[idx];
    }
    return num / den;
}

/* Frames j = 0 .. n_frames-1 whose windows are x[j * hop : j * hop + taps].
 * Outputs: acts (n_frames, n_out) rolled, conf, vol, pitch (n_frames,); db (n_frames, n_bins) if not NULL.
 * Returns 0, or -1 if the scratch is too small. */
int pt_frames(const pt_plan *p, const float *x, int64_t hop, int64_t n_frames, float *acts, float *conf, float *vol,
              float *pitch, float *db) {
    if (p->work_len < work_total(p)) return -1;
    float *w = p->work;
    float *vqt = w + off_vqt(p), *lp = w + off_lp(p), *power = lp + p->n_bins;
    float *xa = w + off_x(p), *ya = w + off_y(p), *re = w + off_fft(p), *im = re + (int64_t)p->fft_n / 2 * p->ch;
    float *spec = w + off_stage(p), *mixed = spec + (int64_t)(p->fft_n / 2 + 1) * 2 * p->ch;
    float *logits = w + off_logits(p), *flat = w + off_flat(p);
    const int nb = p->n_bins;
    for (int64_t t = 0; t < n_frames; t++) {
        vqt_frame(p, x + t * hop, vqt);
        double total = 0;
        for (int k = 0; k < nb; k++) {
            float re_k = vqt[k], im_k = vqt[nb + k];
            float mag = hypotf(re_k, im_k);
            float d = 20.0f * log10f(mag > p->db_floor ? mag : p->db_floor);
            if (db) db[t * nb + k] = d;
            lp[k] = d * p->ln10_over_10;
            power[k] = expf(lp[k]);
            total += power[k];
        }
        vol[t] = (float)total;
        conf[t] = confidence(p, power, lp);
        /* encoder */
        front(p, lp + p->crop0, ya, xa);
        for (int layer = 0; layer < p->n_mix; layer++) prefilter_layer(p, layer, xa, spec, mixed, re, im);
        float *src = xa, *dst = ya;
        for (int layer = 0; layer < p->n_point; layer++) {
            pointwise(p, layer, src, dst);
            float *tmp = src;
            src = dst;
            dst = tmp;
        }
        const int cl = p->p_out[p->n_point - 1];
        for (int c = 0; c < p->c_last; c++)
            for (int b = 0; b < p->n_in; b++) flat[c * p->n_in + b] = src[(int64_t)b * cl + c];
        toeplitz(p, flat, logits);
        float m = logits[0];
        for (int j = 1; j < p->n_out; j++) m = logits[j] > m ? logits[j] : m;
        double s = 0;
        for (int j = 0; j < p->n_out; j++) {
            logits[j] = expf(logits[j] - m);
            s += logits[j];
        }
        const float inv = (float)(1.0 / s);
        float *a = acts + t * p->n_out;
        for (int j = 0; j < p->n_out; j++) {
            int d = j + p->roll;
            d %= p->n_out;
            if (d < 0) d += p->n_out;
            a[d] = logits[j] * inv;
        }
        if (p->has_voicing) conf[t] = learned_voicing(p, conf[t], a);
        pitch[t] = decode(p, a);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------ refinement */
/* pesto_core/refine.py's harmonic instantaneous frequency for streaming frames, in float64. The spectra at the
 * harmonics' bins are direct sums (at most max_harm bins are needed, not a whole FFT): X0[k] = sum_n a_n z^n and
 * X1[k] = sum_n b_n z^n with a_n = s[n] w[n], b_n = s[n + 1] w[n], z = exp(-2 pi i k / N), evaluated four samples
 * at a time with z^n advanced by a rotation (exact cos/sin start values; float64 rotations drift ~1e-13 over a
 * window). */
typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static inline v4d ld4(const double *p) { return *(const v4d *)p; }
static inline double hsum4(v4d v) { return (v[0] + v[2]) + (v[1] + v[3]); }

typedef struct {
    int32_t sr, max_harm, extrapolate;
    int64_t max_length;  /* longest window (samples) */
    double n_periods, min_window_s, max_shift, nyquist_share, tolerance;
    double *work;  /* at least 2 * (max window + 4) values */
    int64_t work_len;
} pt_refine_params;

/* weighted harmonic estimate of the fundamental (Hz) from seg[start .. start + len] (len + 1 samples); NaN if no
 * harmonic carries energy */
static double harmonic_frequency(const pt_refine_params *q, const float *seg, int64_t start, double f_est,
                                 int64_t len, int64_t nfft) {
    double *a = q->work, *b = q->work + len + 4;
    const double theta = 2.0 * M_PI / (double)len;
    /* periodic Hann window by a rotation, four lanes */
    double cr[4], ci[4];
    for (int j = 0; j < 4; j++) {
        cr[j] = cos(theta * j);
        ci[j] = sin(theta * j);
    }
    const double sr4 = cos(4 * theta), si4 = sin(4 * theta);
    int64_t n = 0;
    for (; n + 4 <= len; n += 4) {
        for (int j = 0; j < 4; j++) {
            double w = 0.5 - 0.5 * cr[j];
            a[n + j] = seg[start + n + j] * w;
            b[n + j] = seg[start + n + j + 1] * w;
            double r = cr[j] * sr4 - ci[j] * si4;
            ci[j] = cr[j] * si4 + ci[j] * sr4;
            cr[j] = r;
        }
    }
    for (int j = 0; n < len + 4; n++, j++) {  /* tail (exact cosines) and zero padding to a multiple of 4 */
        double w = n < len ? 0.5 - 0.5 * cos(theta * n) : 0.0;
        a[n] = n < len ? seg[start + n] * w : 0.0;
        b[n] = n < len ? seg[start + n + 1] * w : 0.0;
    }
    const int64_t len4 = (len + 3) & ~(int64_t)3;
    double num = 0, total = 0;
    for (int h = 1; h <= q->max_harm; h++) {
        const double freq = f_est * h;
        if (!(freq < q->nyquist_share * q->sr)) continue;
        double kf = nearbyint(freq * ((double)nfft / q->sr));
        if (kf < 1) kf = 1;
        if (kf > nfft / 2 - 1) kf = (double)(nfft / 2 - 1);
        const double phi = -2.0 * M_PI * kf / (double)nfft;
        v4d zr, zi;
        for (int j = 0; j < 4; j++) {
            zr[j] = cos(phi * j);
            zi[j] = sin(phi * j);
        }
        const v4d stepr = {cos(4 * phi), cos(4 * phi), cos(4 * phi), cos(4 * phi)};
        const v4d stepi = {sin(4 * phi), sin(4 * phi), sin(4 * phi), sin(4 * phi)};
        v4d x0r = {0, 0, 0, 0}, x0i = x0r, x1r = x0r, x1i = x0r;
        for (int64_t m = 0; m < len4; m += 4) {
            const v4d av = ld4(a + m), bv = ld4(b + m);
            x0r += av * zr;
            x0i += av * zi;
            x1r += bv * zr;
            x1i += bv * zi;
            const v4d r = zr * stepr - zi * stepi;
            zi = zr * stepi + zi * stepr;
            zr = r;
        }
        const double p0r = hsum4(x0r), p0i = hsum4(x0i), p1r = hsum4(x1r), p1i = hsum4(x1i);
        const double power = p0r * p0r + p0i * p0i;
        /* angle of X1 / X0: the partial's frequency in radians per sample */
        const double rr = p1r * p0r + p1i * p0i, ri = p1i * p0r - p1r * p0i;
        const double f_h = atan2(ri, rr) * (q->sr / (2.0 * M_PI));
        if (!(fabs(f_h / freq - 1.0) < q->tolerance)) continue;
        const double weight = power * h;
        num += weight * f_h / h;
        total += weight;
    }
    return total > 0 ? num / total : NAN;
}

/* Refine n frames of one stream: frame j is centred on seg[centres[j]] and may use samples before ends[j].
 * pitch_in/pitch_out: MIDI semitones (float32). Returns 0, or -1 if the scratch is too small for a window. */
int pt_refine(const pt_refine_params *q, const float *seg, const int64_t *centres, const int64_t *ends, int64_t n,
              const float *pitch_in, float *pitch_out) {
    int rc = 0;
    for (int64_t j = 0; j < n; j++) {
        const double pitch = pitch_in[j];
        pitch_out[j] = pitch_in[j];
        const double f = 440.0 * pow(2.0, (pitch - 69.0) / 12.0);
        if (!(isfinite(f) && f > 0 && f < q->nyquist_share * q->sr)) continue;
        int64_t room = q->extrapolate ? (ends[j] - 1) * 2 / 3 : ends[j] - 1;
        if (room > q->max_length) room = q->max_length;
        if (room < 16) continue;
        double lf = q->n_periods * q->sr / f;
        if (lf < q->min_window_s * q->sr) lf = q->min_window_s * q->sr;
        int64_t len = (int64_t)nearbyint(lf / 2) * 2;
        if (len > room - room % 2) len = room - room % 2;
        if (len < 16) len = 16;
        if (2 * (len + 4) > q->work_len) {
            rc = -1;
            continue;
        }
        int64_t start = centres[j] - len / 2;
        if (start > ends[j] - 1 - len) start = ends[j] - 1 - len;
        int64_t nfft = 1;
        while (nfft < 2 * len) nfft <<= 1;
        const double late = centres[j] - (start + len / 2.0);
        double f_ref = harmonic_frequency(q, seg, start, f, len, nfft);
        if (q->extrapolate && late > 0 && start - len / 2 >= 0) {
            const int64_t step = len / 2;
            const double earlier = harmonic_frequency(q, seg, start - step, f, len, nfft);
            const double ex = f_ref + (f_ref - earlier) / step * late;
            if (isfinite(ex)) f_ref = ex;
        }
        if (!(isfinite(f_ref) && f_ref > 0)) continue;
        double shift = 69.0 + 12.0 * log2(f_ref / 440.0) - pitch;
        shift = shift > q->max_shift ? q->max_shift : (shift < -q->max_shift ? -q->max_shift : shift);
        pitch_out[j] = (float)(pitch + shift);
    }
    return rc;
}
