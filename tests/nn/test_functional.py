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


def test_mish_kernel_runs_under_vmap_and_grad_with_the_same_values():
    """Members stack parameters and may vmap a network over them (issue 27): the one-exponential kernel must give
    under torch.func what it gives per slice."""
    from torch.func import grad, vmap

    x = torch.randn(3, 64, 128) * 4  # 3 members, above the kernel's 4096-element threshold per slice
    per_slice = torch.stack([mish(x[k]) for k in range(3)])
    assert torch.equal(vmap(mish)(x), per_slice)
    slice_grads = torch.stack([grad(lambda v: mish(v).sum())(x[k]) for k in range(3)])
    assert torch.allclose(vmap(grad(lambda v: mish(v).sum()))(x), slice_grads)
    assert torch.allclose(slice_grads, torch.func.grad(lambda v: F.mish(v).sum())(x), atol=1e-6)


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
