// Vector math for the layers around the matrix products: exp, activations, normalization, softmax.
// Plain loops written so the compiler vectorizes them; on x86-64 each function is cloned for
// AVX-512 / AVX2 / baseline and the loader picks one (function multiversioning), so the same
// source serves every CPU. Accuracy: exp ~2 ulp on [-87.3, 88]; erf |error| < 1.5e-7.
#ifndef REFLEX_VECMATH_H
#define REFLEX_VECMATH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[i] = exp(x[i]); inputs are clamped to [-87.3, 88] (outside, exp under/overflows float).
void rk_vexp(const float *x, float *y, size_t n);
/// y[i] = a[i] + b[i]  (y may alias a or b)
void rk_vadd(const float *a, const float *b, float *y, size_t n);
/// y[i] = a[i] * b[i]  (y may alias a or b)
void rk_vmul(const float *a, const float *b, float *y, size_t n);
/// y[i] = x[i] * s
void rk_vscale(const float *x, float s, float *y, size_t n);
/// y[i] = x[i] / (1 + exp(-x[i]))
void rk_silu(const float *x, float *y, size_t n);
/// y[i] = silu(gate[i]) * up[i]   (SwiGLU; y may alias gate or up)
void rk_silu_mul(const float *gate, const float *up, float *y, size_t n);
/// y[i] = 0.5 x (1 + erf(x / sqrt 2))
void rk_gelu_erf(const float *x, float *y, size_t n);
/// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void rk_gelu_tanh(const float *x, float *y, size_t n);
/// In place: x = softmax(x) over n entries (max-subtracted).
void rk_softmax(float *x, size_t n);
/// y = x / sqrt(mean(x^2) + eps) * w   (w may be NULL: no gain)
void rk_rmsnorm(const float *x, const float *w, float *y, size_t n, float eps);
/// y = (x - mean) / sqrt(var + eps) * w + b  (biased variance; w, b may be NULL)
void rk_layernorm(const float *x, const float *w, const float *b, float *y, size_t n, float eps);
/// Rotary embedding on one head vector of length d (even), "rotate half" (Llama/Qwen2) convention:
/// for i < d/2: (x[i], x[i+d/2]) rotated by angle whose cos/sin are cs[i], sn[i].
void rk_rope_half(float *x, const float *cs, const float *sn, size_t d);

#ifdef __cplusplus
}
#endif
#endif
