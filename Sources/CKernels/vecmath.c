// Vector math for the layers around the matrix products (see rk_vecmath.h).
// Each public function is a simple loop over an inline scalar formula; on x86-64 it is compiled
// three times (AVX-512, AVX2, baseline) through target_clones and the dynamic loader picks the
// clone for the running CPU, so there is no ISA-specific source to keep in sync here.
#include "rk_vecmath.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__ELF__)
// Clones are chosen by CPU *features*, not by CPU model ("arch=..."): under hypervisors that report
// a generic model an arch-based resolver falls back to the baseline clone (measured here: the
// baseline clone ran with floorf through the PLT). avx512f implies AVX2 and FMA.
#define RK_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RK_MULTIVERSION
#endif

// exp(x): Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 polynomial
// (Cephes expf coefficients), scaled by 2^n built from the exponent bits. Branch-free.
static inline float rk_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// erf(x): Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, odd symmetry.
static inline float rk_erff(float x) {
    float ax = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float y = 1.061405429f;
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = 1.0f - y * t * rk_expf(-ax * ax);
    return copysignf(y, x);
}


// Sums and maxima use 16 independent partial lanes so that the compiler can vectorize them
// without reassociating a single floating-point chain (which it may not do on its own).
#define RK_LANES 16

static inline float rk_sum_sq(const float *x, size_t n) {
    float acc[RK_LANES] = {0};
    size_t i = 0;
    for (; i + RK_LANES <= n; i += RK_LANES)
        for (size_t j = 0; j < RK_LANES; j++) acc[j] += x[i + j] * x[i + j];
    float s = 0.0f;
    for (; i < n; i++) s += x[i] * x[i];
    for (size_t j = 0; j < RK_LANES; j++) s += acc[j];
    return s;
}

static inline float rk_sum(const float *x, size_t n) {
    float acc[RK_LANES] = {0};
    size_t i = 0;
    for (; i + RK_LANES <= n; i += RK_LANES)
        for (size_t j = 0; j < RK_LANES; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (size_t j = 0; j < RK_LANES; j++) s += acc[j];
    return s;
}

static inline float rk_max(const float *x, size_t n) {
    float acc[RK_LANES];
    for (size_t j = 0; j < RK_LANES; j++) acc[j] = -INFINITY;
    size_t i = 0;
    for (; i + RK_LANES <= n; i += RK_LANES)
        for (size_t j = 0; j < RK_LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = -INFINITY;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (size_t j = 0; j < RK_LANES; j++) m = acc[j] > m ? acc[j] : m;
    return m;
}

RK_MULTIVERSION void rk_vexp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = rk_expf(x[i]);
}

RK_MULTIVERSION void rk_vadd(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

RK_MULTIVERSION void rk_vmul(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

RK_MULTIVERSION void rk_vscale(const float *x, float s, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * s;
}

RK_MULTIVERSION void rk_silu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + rk_expf(-x[i]));
}

RK_MULTIVERSION void rk_silu_mul(const float *gate, const float *up, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        y[i] = g / (1.0f + rk_expf(-g)) * up[i];
    }
}

RK_MULTIVERSION void rk_gelu_erf(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + rk_erff(v * 0.70710678118654752f));
    }
}

RK_MULTIVERSION void rk_gelu_tanh(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        // tanh(u) = 1 - 2 / (exp(2u) + 1)
        float t = 1.0f - 2.0f / (rk_expf(2.0f * u) + 1.0f);
        y[i] = 0.5f * v * (1.0f + t);
    }
}

RK_MULTIVERSION void rk_softmax(float *x, size_t n) {
    if (n == 0) return;
    float m = rk_max(x, n);
    for (size_t i = 0; i < n; i++) x[i] = rk_expf(x[i] - m);
    float inv = 1.0f / rk_sum(x, n);
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

RK_MULTIVERSION void rk_rmsnorm(const float *x, const float *w, float *y, size_t n, float eps) {
    float inv = 1.0f / sqrtf(rk_sum_sq(x, n) / (float)n + eps);
    if (w) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
    } else {
        for (size_t i = 0; i < n; i++) y[i] = x[i] * inv;
    }
}

RK_MULTIVERSION void rk_layernorm(const float *x, const float *w, const float *b, float *y, size_t n,
                                  float eps) {
    float mean = rk_sum(x, n) / (float)n;
    // Centre into y, then the variance is a plain sum of squares of y.
    for (size_t i = 0; i < n; i++) y[i] = x[i] - mean;
    float inv = 1.0f / sqrtf(rk_sum_sq(y, n) / (float)n + eps);
    if (w && b) {
        for (size_t i = 0; i < n; i++) y[i] = y[i] * inv * w[i] + b[i];
    } else if (w) {
        for (size_t i = 0; i < n; i++) y[i] = y[i] * inv * w[i];
    } else {
        for (size_t i = 0; i < n; i++) y[i] = y[i] * inv + (b ? b[i] : 0.0f);
    }
}

RK_MULTIVERSION void rk_rope_half(float *x, const float *cs, const float *sn, size_t d) {
    size_t h = d / 2;
    float *lo = x, *hi = x + h;
    for (size_t i = 0; i < h; i++) {
        float a = lo[i], b = hi[i];
        lo[i] = a * cs[i] - b * sn[i];
        hi[i] = b * cs[i] + a * sn[i];
    }
}
