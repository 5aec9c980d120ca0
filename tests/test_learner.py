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


def test_defaults_are_the_released_values():
    """paper-notes §2: released main.py (global values) and the hopper-medium-expert row of configs/radac.yaml;
    §1.2: T = 5 vp, clip_denoised, EMA 0.995 every 5 from 1000, online actor at evaluation, kappa 1."""
    import inspect

    from ramac.learners.radac import RADAC

    defaults = {name: p.default for name, p in inspect.signature(RADAC).parameters.items()
                if p.default is not inspect.Parameter.empty}
    released = dict(n_quantiles=16, critic_embedding_dim=64, critic_hidden_dim=256, discount=0.99,
                    target_update_rate=0.005, target_clip=(-300.0, 300.0), huber_kappa=1.0, diffusion_steps=5,
                    beta_schedule="vp", actor_hidden_dim=256, clip_denoised=True, bc_weight=1.0, risk_weight=0.05,
                    distortion="cvar", cvar_alpha=0.1, risk_warmup_iterations=300_000, risk_ramp_iterations=0,
                    ema_decay=0.995, ema_every=5, ema_start_iteration=1000, eval_actor="online", actor_lr=3e-4,
                    critic_lr=1e-5, max_grad_norm=5.0)
    for key, value in released.items():
        assert defaults[key] == value and type(defaults[key]) is type(value), key
    assert defaults["quantile_pairing"] == "standard"  # ours: the released pairing collapses the quantiles
    assert defaults["n_target_quantiles"] is None and defaults["n_risk_quantiles"] is None  # both = N, as released
    from ramac.data.datamodule import OfflineDataModule

    assert inspect.signature(OfflineDataModule).parameters["batch_size"].default == 256


def test_risk_term_wiring_inside_update():
    """The actor's risk term reads the critic *after* its step, at levels g(u) = alpha u in [0, alpha), with the
    critic weights detached, and its weight follows the warm-up."""
    model = tiny_radac(risk_weight=0.3, risk_warmup_iterations=2, cvar_alpha=0.25, n_quantiles=64)
    calls = []
    forward = model.critic.forward

    def recording(obs, actions, taus, detach_params=False):
        calls.append({"taus": taus.detach().clone(), "detach": detach_params,
                      "params": [p.detach().clone() for p in model.critic.parameters()]})
        return forward(obs, actions, taus, detach_params)

    model.critic.forward = recording
    weights = []
    update = model.update

    def capture(batch, generator):
        metrics = update(batch, generator)
        weights.append(float(metrics["train/actor/risk_weight"]))
        after = [p.detach().clone() for p in model.critic.parameters()]
        critic_call, risk_call = calls[-2:]
        assert not critic_call["detach"] and risk_call["detach"]
        assert all(torch.equal(a, b) for a, b in zip(risk_call["params"], after, strict=True))  # after the step
        assert not all(torch.equal(a, b) for a, b in zip(critic_call["params"], after, strict=True))
        assert (risk_call["taus"] >= 0).all() and (risk_call["taus"] < 0.25).all()
        assert risk_call["taus"].max() > 0.2  # spread over [0, alpha), not squeezed
        assert (critic_call["taus"] > 0.25).any()  # the critic's own levels span (0, 1)
        return metrics

    model.update = capture
    quiet_trainer(max_steps=5).fit(model, datamodule=TinyData())
    assert weights == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.3])  # off through the warm-up (and its last iteration)


def test_act_uses_the_online_actor_on_normalised_observations():
    model = tiny_radac()
    with torch.no_grad():
        for p in model.actor_ema.parameters():
            p.add_(0.5)  # the EMA actor now acts differently
    mean, std = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([2.0, 0.5, 3.0])
    model.obs_normalizer.set_statistics(mean.numpy(), std.numpy())
    obs = torch.randn(6, 3)
    acted = model.act(obs, torch.Generator().manual_seed(4))
    expected = model.actor.sample((obs - mean) / std, torch.Generator().manual_seed(4))
    assert torch.allclose(acted, expected, atol=1e-6)
    assert not torch.allclose(acted, model.actor.sample(obs, torch.Generator().manual_seed(4)), atol=1e-3)
    assert not torch.allclose(acted, model.actor_ema.sample((obs - mean) / std, torch.Generator().manual_seed(4)),
                              atol=1e-3)
    ema = tiny_radac(eval_actor="ema")
    ema.load_state_dict(model.state_dict())
    assert torch.allclose(ema.act(obs, torch.Generator().manual_seed(4)),
                          model.actor_ema.sample((obs - mean) / std, torch.Generator().manual_seed(4)), atol=1e-6)
