from __future__ import annotations

import torch
import torch.nn.functional as F

from ramac.nn.functional import ensemble_head, mish
from ramac.nn.mlp import mlp


def test_mish_matches_torch_forward_and_backward():
    x = torch.linspace(-30, 30, 2001, requires_grad=True)
    y = mish(x)
    x_ref = x.detach().clone().requires_grad_(True)
    y_ref = F.mish(x_ref)
    assert torch.allclose(y, y_ref, atol=1e-5)
    y.sum().backward()
    y_ref.sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)


def test_ensemble_head_equals_batched_matmul():
    hidden, weight, bias = torch.randn(2, 7, 5, requires_grad=True), torch.randn(2, 5), torch.randn(2)
    got = ensemble_head(hidden, weight, bias)
    want = torch.baddbmm(bias.view(-1, 1, 1), hidden, weight.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(got, want, atol=1e-6)
    got.sum().backward()
    assert torch.allclose(hidden.grad, weight.unsqueeze(1).expand(2, 7, 5))


def test_mlp_layout_keeps_the_zoo_keys_and_refuses_bad_sizes():
    net = mlp(4, 3, 8)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert net(torch.zeros(2, 4)).shape == (2, 3)
    import pytest

    with pytest.raises(ValueError, match="hidden_dim=0"):
        mlp(4, 3, 0)
