"""Counter-based seeding of the training stream."""

from __future__ import annotations

_MASK64 = (1 << 64) - 1


def iteration_seed(seed: int, rank: int, iteration: int) -> int:
    """A 63-bit seed for one ``(seed, rank, iteration)`` triple (SplitMix64 finaliser over the mix)."""
    z = (seed * 0x9E3779B97F4A7C15 + rank * 0xBF58476D1CE4E5B9 + iteration * 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1
