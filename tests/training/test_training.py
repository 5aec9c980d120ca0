from __future__ import annotations

import pytest
import torch

from ramac.training.averaging import soft_update_
from ramac.training.gradients import clip_grad_norm_
from ramac.training.rng import iteration_seed


def test_per_member_gradient_clipping_matches_separate_clips():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(2, 3, 4)), torch.nn.Parameter(torch.randn(2, 5))]
    for p in params:
        p.grad = torch.randn_like(p) * 10
    separate = []
    for member in range(2):
        copies = [torch.nn.Parameter(p[member].detach().clone()) for p in params]
        for c, p in zip(copies, params, strict=True):
            c.grad = p.grad[member].clone()
        norm = torch.nn.utils.clip_grad_norm_(copies, 1.0)
        separate.append((norm, [c.grad for c in copies]))
    norms = clip_grad_norm_(params, 1.0, ensemble_size=2)
    for member in range(2):
        assert norms[member].item() == pytest.approx(separate[member][0].item(), rel=1e-6)
        for p, want in zip(params, separate[member][1], strict=True):
            assert torch.allclose(p.grad[member], want, atol=1e-6)


def test_iteration_seed_differs_by_rank_and_iteration():
    seeds = {iteration_seed(0, r, i) for r in range(4) for i in range(1000)}
    assert len(seeds) == 4000 and all(0 <= s < 2**63 for s in seeds)


def test_soft_update_is_polyak_averaging():
    target, source = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    want = {n: 0.75 * p.detach() + 0.25 * dict(source.named_parameters())[n].detach()
            for n, p in target.named_parameters()}
    soft_update_(target, source, 0.25)
    for name, value in target.named_parameters():
        assert torch.allclose(value, want[name], atol=1e-7), name
    with pytest.raises(ValueError, match="different parameter lists"):
        soft_update_(target, torch.nn.Linear(3, 3, bias=False), 0.5)
