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
INV_LN2 = 1.0 / math.log(2.0)
EXP_TERMS = [1.0 / math.factorial(n) for n in range(14)]  # e^r = Σ r^n / n!, |r| <= ln2 / 2: error < 1e-17
EXPM1_TERMS = [1.0 / math.factorial(n) for n in range(1, 20)]  # e^y − 1 for |y| <= 1.1: error < 1e-17
ATANH_TERMS = [1.0 / (2 * n + 1) for n in range(12)]  # atanh f = Σ f^(2n+1) / (2n+1), |f| <= 0.172


def _horner(coefficients: list[float], x: np.ndarray) -> np.ndarray:
    """``Σ_n c_n x^n`` evaluated from the highest power down (one fixed order of basic operations)."""
    total = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total = total * x + c
    return total


def exp(x: np.ndarray) -> np.ndarray:
    r"""``e^x`` for float64 ``|x| <= 700``: ``e^x = 2^k e^r`` with ``k = rint(x / ln2)``, ``|r| <= ln2/2``."""
    x = np.asarray(x, dtype=np.float64)
    if np.any(np.abs(x) > 700.0):
        raise ValueError("ramac.zoo.exact.exp: |x| must be <= 700")
    k = np.rint(x * INV_LN2)
    r = (x - k * LN2_HI) - k * LN2_LO
    return np.ldexp(_horner(EXP_TERMS, r), k.astype(np.int64))


def expm1(y: np.ndarray) -> np.ndarray:
    """``e^y − 1`` for float64 ``|y| <= 1.1`` by its Taylor series (no cancellation near 0)."""
    y = np.asarray(y, dtype=np.float64)
    if np.any(np.abs(y) > 1.1):
        raise ValueError("ramac.zoo.exact.expm1: |y| must be <= 1.1")
    return _horner(EXPM1_TERMS, y) * y


def log(x: np.ndarray) -> np.ndarray:
    r"""``ln x`` for positive finite float64 ``x``: ``x = m 2^e`` with ``m ∈ [√½, √2)``, then
    ``ln m = 2 atanh((m − 1)/(m + 1))`` by its series and ``ln x = e ln2 + ln m``."""
    x = np.asarray(x, dtype=np.float64)
    if np.any(~(x > 0.0)) or np.any(~np.isfinite(x)):
        raise ValueError("ramac.zoo.exact.log: x must be positive and finite")
    mantissa, exponent = np.frexp(x)  # x = mantissa · 2^exponent, mantissa ∈ [0.5, 1)
    low = mantissa < math.sqrt(0.5)
    mantissa = np.where(low, mantissa * 2.0, mantissa)
    exponent = (exponent - low).astype(np.float64)
    f = (mantissa - 1.0) / (mantissa + 1.0)
    return exponent * LN2_HI + (exponent * LN2_LO + 2.0 * f * _horner(ATANH_TERMS, f * f))


def tanh(x: np.ndarray) -> np.ndarray:
    r"""``tanh x = sign(x) · (1 − t)/(1 + t)``, ``t = e^{−2|x|}``; for ``|x| < 0.55`` as
    ``−u/(2 + u)`` with ``u = e^{−2|x|} − 1`` (no cancellation). ``|x| >= 20`` gives ±1 exactly."""
    x = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(x), 20.0)
    small = a < 0.55
    u = expm1(-2.0 * np.where(small, a, 0.0))
    t = exp(-2.0 * a)
    magnitude = np.where(small, -u / (2.0 + u), (1.0 - t) / (1.0 + t))
    return np.copysign(magnitude, x)


def standard_normal(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` standard normal draws by the polar method: pairs ``(u, v)`` uniform on ``[-1, 1)²`` are kept
    when ``0 < s = u² + v² < 1`` and give ``u √(−2 ln s / s)`` and ``v √(−2 ln s / s)``, in that order."""
    parts: list[np.ndarray] = []
    have = 0
    while have < size:
        pairs = (size - have) // 2 + 8
        uniform = 2.0 * rng.random((pairs, 2)) - 1.0
        s = uniform[:, 0] * uniform[:, 0] + uniform[:, 1] * uniform[:, 1]
        kept = (s < 1.0) & (s > 0.0)
        uniform, s = uniform[kept], s[kept]
        parts.append((uniform * np.sqrt(-2.0 * log(s) / s)[:, None]).reshape(-1))
        have += parts[-1].size
    return np.concatenate(parts)[:size]


def quantise(x: torch.Tensor, step: float, bound: float) -> torch.Tensor:
    """``x`` clamped to ``[-bound, bound]`` and rounded to the nearest multiple of ``step`` (a power of two,
    so the scaling is exact and the result is exact)."""
    return torch.round(x.clamp(-bound, bound) / step) * step


class ExactMLP:
    """A ReLU MLP ``h_{l+1} = relu(h_l W_l + b_l)`` (no ReLU after the last layer) computed exactly in float64.

    ``layers``: ``(W [in, out], b [out])`` per layer. Weights and biases are rounded to ``WEIGHT_STEP``, every
    layer input to ``INPUT_STEP`` within ``±INPUT_BOUND``; the constructor checks that every partial sum
    stays below ``EXACT_BOUND`` (then float64 holds it exactly, see the module docstring).
    """

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.layers = []
        for index, (weight, bias) in enumerate(layers):
            w = quantise(weight.double(), WEIGHT_STEP, math.inf)
            b = quantise(bias.double(), WEIGHT_STEP, math.inf)
            worst = float((w.abs().sum(0) * INPUT_BOUND + b.abs()).max())
            if worst >= EXACT_BOUND:
                raise ValueError(f"ExactMLP layer {index}: Σ|W|·{INPUT_BOUND:g} + |b| reaches {worst:.3g}, above "
                                 f"{EXACT_BOUND:g}, where float64 sums stop being exact")
            self.layers.append((w, b))

    @torch.inference_mode()
    def __call__(self, inputs: np.ndarray) -> np.ndarray:  # [B, in] -> [B, out] float64
        h = quantise(torch.from_numpy(np.asarray(inputs, dtype=np.float64)), INPUT_STEP, INPUT_BOUND)
        for index, (w, b) in enumerate(self.layers):
            h = torch.addmm(b, h, w)
            if index < len(self.layers) - 1:
                h = quantise(h.clamp_min(0.0), INPUT_STEP, INPUT_BOUND)
        return h.numpy().copy()
