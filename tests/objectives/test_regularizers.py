"""The regularisers' one formula against its definition, and the coupling bound being W₂² where it is exact."""

from __future__ import annotations

import pytest
import torch

from ramac.objectives.regularizers import mean_squared_distance


def test_mean_squared_distance_is_the_batch_mean_of_squared_euclidean_distances():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    y = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert mean_squared_distance(x, y).item() == pytest.approx((25.0 + 4.0) / 2)
    with pytest.raises(ValueError, match=r"two \[B, A\] batches"):
        mean_squared_distance(x, y[:1])


def test_shared_noise_couples_two_gaussians_at_their_wasserstein_distance():
    """In one dimension the shared-noise (comonotone) coupling of N(μ₁, σ₁²) and N(μ₂, σ₂²) is optimal, so the bound
    is W₂² = (μ₁ − μ₂)² + (σ₁ − σ₂)²; independent noise gives (μ₁ − μ₂)² + σ₁² + σ₂², strictly above."""
    noise = torch.randn(400_000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    other = torch.randn(400_000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x, y = 0.5 + 2.0 * noise, -1.0 + 0.5 * noise
    assert mean_squared_distance(x, y).item() == pytest.approx(1.5**2 + 1.5**2, rel=1e-2)
    independent = mean_squared_distance(x, -1.0 + 0.5 * other).item()
    assert independent == pytest.approx(1.5**2 + 4.0 + 0.25, rel=1e-2)
