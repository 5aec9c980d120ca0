from __future__ import annotations

import copy

import lightning.pytorch as pl
import pytest
import torch
from conftest import TinyData, quiet_trainer, tiny_radac

from ramac.gradients import clip_grad_norm_
from ramac.rng import iteration_seed


def _grads(module):
    return {n: (p.grad.clone() if p.grad is not None else None) for n, p in module.named_parameters()}


def _nonzero(grads):
    return {n for n, g in grads.items() if g is not None and g.abs().sum() > 0}


def test_gradient_isolation_between_critic_and_actor():
    model = tiny_radac(risk_weight=1.0)
    snapshots = []
    original = model.manual_backward

    def recording(loss, *args, **kwargs):
        before = _grads(model)
        original(loss, *args, **kwargs)
        snapshots.append((before, _grads(model)))

    model.manual_backward = recording
    quiet_trainer(max_steps=1).fit(model, datamodule=TinyData())
    (_, crit_after), (act_before, act_after) = snapshots
    critic_names = {n for n in crit_after if n.startswith("critic.")}
    actor_names = {n for n in crit_after if n.startswith("actor.")}
    # critic loss: gradients in every critic parameter, none anywhere else
    assert _nonzero(crit_after) == critic_names
    # actor loss: gradients in the actor, and the critic's gradients untouched
    assert _nonzero(act_after) - critic_names == actor_names
    for name in critic_names:
        assert torch.equal(act_before[name], act_after[name]), name
    assert all(g is None for n, g in act_after.items() if n.startswith(("critic_target.", "actor_ema.")))


def test_iteration_counter_equals_global_step_and_targets_follow():
    model = tiny_radac(target_update_rate=0.5, ema_decay=0.5, ema_start_iteration=2, ema_every=2)
    initial_target = copy.deepcopy(model.critic_target.state_dict())
    initial_ema = copy.deepcopy(model.actor_ema.state_dict())
    snapshots = {}

    class Snap(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            snapshots[batch_idx] = (copy.deepcopy(module.critic.state_dict()), copy.deepcopy(module.actor.state_dict()),
                                    copy.deepcopy(module.critic_target.state_dict()),
                                    copy.deepcopy(module.actor_ema.state_dict()))

    trainer = quiet_trainer(max_steps=5, callbacks=[Snap()])
    trainer.fit(model, datamodule=TinyData())
    assert model.iteration == 5 and trainer.global_step == 5
    # Polyak: target_1 = 0.5 target_0 + 0.5 critic_after_step_0
    critic_after_0 = snapshots[1][0]
    for name, value in snapshots[1][2].items():
        assert torch.allclose(value, 0.5 * initial_target[name] + 0.5 * critic_after_0[name], atol=1e-6)
    # EMA untouched at iterations 0 and 1, updated at iteration 2 (start 2, every 2), untouched at 3
    for name, value in snapshots[2][3].items():
        assert torch.equal(value, initial_ema[name])
    actor_after_2 = snapshots[3][1]
    for name, value in snapshots[3][3].items():
        assert torch.allclose(value, 0.5 * initial_ema[name] + 0.5 * actor_after_2[name], atol=1e-6)
    for name, value in snapshots[4][3].items():
        assert torch.equal(value, snapshots[3][3][name])


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


def test_float16_mixed_precision_is_refused_with_a_clear_message():
    # On CPU Lightning turns precision="16-mixed" into bf16-mixed; an explicit plugin keeps the GradScaler.
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(ValueError, match="bf16-mixed"):
        quiet_trainer(max_steps=1, plugins=[plugin]).fit(tiny_radac(), datamodule=TinyData())


def test_bf16_mixed_precision_trains():
    model = tiny_radac()
    before = copy.deepcopy(model.actor.state_dict())
    quiet_trainer(max_steps=3, precision="bf16-mixed").fit(model, datamodule=TinyData())
    assert model.iteration == 3
    assert any(not torch.equal(before[n], v) for n, v in model.actor.state_dict().items())
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_learner_rejects_bad_options():
    with pytest.raises(ValueError, match="distortion"):
        tiny_radac(distortion="entropic")
    with pytest.raises(ValueError, match="target_clip"):
        tiny_radac(target_clip=(5.0, -5.0))
    with pytest.raises(ValueError, match="ema_decay"):
        tiny_radac(ema_decay=1.0)


def test_batch_size_must_split_over_processes():
    with pytest.raises(ValueError, match="divisible"):
        TinyData(batch_size=15).make_sampler(torch.device("cpu"), world_size=2)
