"""Arithmetic whose result does not depend on the CPU: the zoo's generation-2 policy forward pass and noise.

Why (README "Data", measured in BENCHMARKS.md "Zoo data across CPUs"): generation 1 ran the policy MLP in
float32 through MKL's sgemm, which picks its kernel (and so its summation order) by instruction set, and the
dynamics amplify one last-bit difference into a different dataset. Here every step is either exact or one
IEEE-754 basic operation (``+ − × ÷ √``, rounding to an integer, ``frexp``/``ldexp``), which every conforming
CPU and every SIMD width rounds identically. Transcendental functions (``exp``, ``log``, ``tanh``) are written
out of those operations, since NumPy's and glibc's versions dispatch on the instruction set (AVX-512, FMA).

- :class:`ExactMLP`: weights rounded to multiples of ``2^-16``, layer inputs to multiples of ``2^-12`` with
  ``|h| <= 2^12``; every product and partial sum is then a multiple of ``2^-28`` below ``2^25`` in magnitude,
  an integer times ``2^-28`` under ``2^53``, so float64 represents it exactly and the matrix product is the
  same in any summation order, with or without fused multiply-adds.
- :func:`exp`, :func:`log`, :func:`tanh`: range reduction plus a fixed polynomial, evaluated in a fixed order
  (relative error within a few units in the last place of float64; tested against NumPy).
- :func:`standard_normal`: Marsaglia's polar method on the generator's uniform doubles (which NumPy makes
  from integers exactly) with :func:`log` and ``√``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

WEIGHT_STEP = 2.0 ** -16  # weights and biases are rounded to multiples of this
INPUT_STEP = 2.0 ** -12  # layer inputs are rounded to multiples of this ...
INPUT_BOUND = 2.0 ** 12  # ... and clamped to [-INPUT_BOUND, INPUT_BOUND]
EXACT_BOUND = 2.0 ** 25  # |partial sums| below this are exact multiples of WEIGHT_STEP · INPUT_STEP = 2^-28

# Cody and Waite's split of ln 2: LN2_HI has 32 significant bits, so k · LN2_HI is exact for |k| < 2^20.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.4426950408889634  # 1 / ln 2 as a literal: the constant must not come from the host's libm
EXPM1_TERMS = [1.0 / math.factorial(n) for n in range(1, 14)]  # (e^r − 1)/r = Σ r^n/(n+1)!, |r| <= ln2/2: < 1e-17
ATANH_TERMS = [1.0 / (2 * n + 1) for n in range(12)]  # atanh f / f = Σ f^(2n)/(2n+1), |f| <= 0.172: < 1e-17


def _horner(coefficients: list[float], x: np.ndarray) -> np.ndarray:
    """``Σ_n c_n x^n`` evaluated from the highest power down (one fixed order of basic operations)."""
    total = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total *= x
        total += c
    return total


def _reduce(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x = k ln2 + r`` with integer ``k = rint(x / ln2)`` and ``|r| <= ln2/2``; returns ``k`` (as int64
    and float64) and ``(e^r − 1)`` computed as ``r · Σ r^n/(n+1)!`` (no cancellation near 0)."""
    if (np.abs(x) > 700.0).any():
        raise ValueError("ramac.zoo.exact: |x| must be <= 700")
    k = np.rint(x * INV_LN2)
    r = x - k * LN2_HI
    r -= k * LN2_LO
    return k.astype(np.int64), k, _horner(EXPM1_TERMS, r) * r


def exp(x: np.ndarray) -> np.ndarray:
    r"""``e^x`` for float64 ``|x| <= 700``: ``e^x = 2^k (1 + (e^r − 1))``, ``k = rint(x/ln2)``, ``|r| <= ln2/2``."""
    k, _, em1 = _reduce(np.asarray(x, dtype=np.float64))
    return np.ldexp(em1 + 1.0, k)


def expm1(x: np.ndarray) -> np.ndarray:
    r"""``e^x − 1`` for float64 ``|x| <= 700``: ``2^k (e^r − 1) + (2^k − 1)``, accurate near 0 (``k = 0``)."""
    k, _, em1 = _reduce(np.asarray(x, dtype=np.float64))
    return np.ldexp(em1, k) + (np.ldexp(1.0, k) - 1.0)


def log(x: np.ndarray) -> np.ndarray:
    r"""``ln x`` for positive finite float64 ``x``: ``x = m 2^e`` with ``m ∈ [√½, √2)``, then
    ``ln m = 2 atanh((m − 1)/(m + 1))`` by its series and ``ln x = e ln2 + ln m``."""
    x = np.asarray(x, dtype=np.float64)
    if (~(x > 0.0)).any() or (~np.isfinite(x)).any():
        raise ValueError("ramac.zoo.exact.log: x must be positive and finite")
    mantissa, exponent = np.frexp(x)  # x = mantissa · 2^exponent, mantissa ∈ [0.5, 1)
    low = mantissa < math.sqrt(0.5)
    mantissa[low] *= 2.0
    power = exponent.astype(np.float64)
    power[low] -= 1.0
    f = (mantissa - 1.0) / (mantissa + 1.0)
    series = _horner(ATANH_TERMS, f * f)
    series *= 2.0 * f
    series += power * LN2_LO
    series += power * LN2_HI
    return series


def tanh(x: np.ndarray) -> np.ndarray:
    r"""``tanh x = sign(x) · (−u)/(2 + u)`` with ``u = e^{−2|x|} − 1`` (no cancellation at any ``x``);
    ``|x| >= 20`` gives ±1 exactly."""
    x = np.asarray(x, dtype=np.float64)
    u = expm1(-2.0 * np.minimum(np.abs(x), 20.0))
    return np.copysign(-u / (2.0 + u), x)


def standard_normal(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` standard normal draws by the polar method: pairs ``(u, v)`` uniform on ``[-1, 1)²`` are kept
    when ``0 < s = u² + v² < 1`` and give ``u √(−2 ln s / s)`` and ``v √(−2 ln s / s)``, in that order."""
    parts: list[np.ndarray] = []
    have = 0
    while have < size:
        pairs = (size - have) * 2 // 3 + 8  # 4/π ≈ 1.27 pairs drawn per pair kept
        uniform = rng.random((pairs, 2))
        uniform *= 2.0
        uniform -= 1.0
        s = uniform[:, 0] * uniform[:, 0] + uniform[:, 1] * uniform[:, 1]
        kept = (s < 1.0) & (s > 0.0)
        uniform, s = uniform[kept], s[kept]
        scale = log(s)
        scale *= -2.0
        scale /= s
        parts.append((uniform * np.sqrt(scale)[:, None]).reshape(-1))
        have += parts[-1].size
    return np.concatenate(parts)[:size] if len(parts) > 1 else parts[0][:size]


def quantise(x: np.ndarray, step: float, bound: float) -> np.ndarray:
    """``x`` clamped to ``[-bound, bound]`` and rounded to the nearest multiple of ``step`` (a power of two, so
    the scaling is exact and the result is exact), in place."""
    np.clip(x, -bound, bound, out=x)
    x *= 1.0 / step
    np.rint(x, out=x)
    x *= step
    return x


class ExactMLP:
    """A ReLU MLP ``h_{l+1} = relu(h_l W_l + b_l)`` (no ReLU after the last layer) computed exactly in float64.

    ``layers``: ``(W [in, out], b [out])`` per layer. Weights and biases are rounded to ``WEIGHT_STEP``, every
    layer input to ``INPUT_STEP`` within ``±INPUT_BOUND``; the constructor checks that every partial sum
    stays below ``EXACT_BOUND`` (then float64 holds it exactly, see the module docstring). The products run
    in torch (one thread's float64 GEMM), the rounding in NumPy.
    """

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.layers = []
        for index, (weight, bias) in enumerate(layers):
            w = quantise(weight.double().numpy().copy(), WEIGHT_STEP, math.inf)
            b = quantise(bias.double().numpy().copy(), WEIGHT_STEP, math.inf)
            worst = float((np.abs(w).sum(0) * INPUT_BOUND + np.abs(b)).max())
            if worst >= EXACT_BOUND:
                raise ValueError(f"ExactMLP layer {index}: Σ|W|·{INPUT_BOUND:g} + |b| reaches {worst:.3g}, above "
                                 f"{EXACT_BOUND:g}, where float64 sums stop being exact")
            # column-major W: one thread's float64 GEMM measured 69 µs against 80 µs row-major at [16, 256] × [256, 256]
            self.layers.append((torch.from_numpy(w).t().contiguous().t(), torch.from_numpy(b)))

    @torch.inference_mode()
    def __call__(self, inputs: np.ndarray) -> np.ndarray:  # [B, in] -> [B, out] float64
        h = quantise(np.array(inputs, dtype=np.float64), INPUT_STEP, INPUT_BOUND)
        for index, (w, b) in enumerate(self.layers):
            h = torch.addmm(b, torch.from_numpy(h), w).numpy()
            if index < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
                quantise(h, INPUT_STEP, INPUT_BOUND)
        return h
