from __future__ import annotations

import copy

import lightning.pytorch as pl
import pytest
import torch
from helpers.tiny import TinyData, quiet_trainer, tiny_radac


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


def test_learner_rejects_bad_options():
    with pytest.raises(ValueError, match="distortion"):
        tiny_radac(distortion="entropic")
    with pytest.raises(ValueError, match="target_clip"):
        tiny_radac(target_clip=(5.0, -5.0))
    with pytest.raises(ValueError, match="ema_decay"):
        tiny_radac(ema_decay=1.0)


def test_defaults_are_the_released_values():
    """Released main.py (global values) and the hopper-medium-expert row of configs/radac.yaml;
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


def record_critic_calls(model) -> list[dict]:
    """Wrap ``model.critic.forward``; each call appends its levels, whether the weights were detached, the critic's
    parameters at the call and its output."""
    calls = []
    forward = model.critic.forward

    def recording(obs, actions, taus, detach_params=False):
        out = forward(obs, actions, taus, detach_params)
        calls.append({"taus": taus.detach().clone(), "detach": detach_params, "out": out.detach().float(),
                      "params": [p.detach().clone() for p in model.critic.parameters()]})
        return out

    model.critic.forward = recording
    return calls


def check_each_update(model, check) -> None:
    """Wrap ``model.update`` so that ``check(metrics)`` runs after every iteration's update."""
    update = model.update

    def checked(batch, generator):
        metrics = update(batch, generator)
        check(metrics)
        return metrics

    model.update = checked


def test_risk_term_wiring_inside_update():
    """The actor's risk term reads the critic *after* its step, at levels g(u) = alpha u in [0, alpha), with the
    critic weights detached, and its weight follows the warm-up."""
    model = tiny_radac(risk_weight=0.3, risk_warmup_iterations=2, cvar_alpha=0.25, n_quantiles=64)
    calls = record_critic_calls(model)
    weights = []

    def check(metrics):
        weights.append(float(metrics["train/actor/risk_weight"]))
        after = [p.detach().clone() for p in model.critic.parameters()]
        critic_call, risk_call, data_call = calls  # the third: the logged risk at the data's actions
        calls.clear()
        assert torch.equal(data_call["taus"], risk_call["taus"]) and data_call["detach"]
        assert not critic_call["detach"] and risk_call["detach"]
        assert all(torch.equal(a, b) for a, b in zip(risk_call["params"], after, strict=True))  # after the step
        assert not all(torch.equal(a, b) for a, b in zip(critic_call["params"], after, strict=True))
        assert (risk_call["taus"] >= 0).all() and (risk_call["taus"] < 0.25).all()
        assert risk_call["taus"].max() > 0.2  # spread over [0, alpha), not squeezed
        assert (critic_call["taus"] > 0.25).any()  # the critic's own levels span (0, 1)

    check_each_update(model, check)
    quiet_trainer(max_steps=5).fit(model, datamodule=TinyData())
    assert weights == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.3])  # off through the warm-up (and its last iteration)


def test_normalize_risk_divides_the_risk_term_by_the_batch_mean_absolute_risk():
    """``normalize_risk`` (an adaptation, Diffusion-QL's E|Q| divisor): actor loss = BC − w · risk / stopgrad(mean_b
    |risk_b|), with the per-state risks of the quantiles the risk call returned."""
    from ramac.objectives.risk import risk_scale

    model = tiny_radac(risk_weight=0.3, risk_warmup_iterations=0, normalize_risk=True)
    calls = record_critic_calls(model)
    checked = []

    def check(metrics):
        risk_quantiles = next(c["out"] for c in calls if c["detach"])  # the risk call, before the data's
        calls.clear()
        scale = risk_scale(risk_quantiles)
        assert float(scale) == pytest.approx(float(risk_quantiles.amin(0).mean(-1).abs().mean()))
        risk, bc = metrics["train/actor/risk"], metrics["train/actor/bc_loss"]
        weight = float(metrics["train/actor/risk_weight"])  # 0 on the first iteration (the switch follows warm-up)
        assert float(metrics["train/actor/loss"]) == pytest.approx(float(bc - weight * risk / scale), rel=1e-5)
        assert abs(float(scale) - 1.0) > 1e-3  # so the plain term would differ
        checked.append(weight)

    check_each_update(model, check)
    quiet_trainer(max_steps=3).fit(model, datamodule=TinyData())
    assert checked == pytest.approx([0.0, 0.3, 0.3])


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


def test_the_critics_risk_at_the_data_is_logged_beside_the_policys():
    """``train/critic/risk_at_data``: the same risk estimate at the batch's own actions, only on logging iterations
    (no extra random draws: the run is the same with or without it)."""
    torch.manual_seed(0)
    model = tiny_radac()
    seen = []
    check_each_update(model, lambda metrics: seen.append(("train/critic/risk_at_data" in metrics,
                                                          "train/actor/risk" in metrics)))
    quiet_trainer(max_steps=4, log_every_n_steps=2).fit(model, datamodule=TinyData())
    assert [logged for logged, _ in seen] == [False, True, False, True]
    assert all(risk for _, risk in seen[1:])  # weight 0 at iteration 0 (no ramp): no risk term and not logged
    torch.manual_seed(0)
    quiet = tiny_radac()
    quiet_trainer(max_steps=4, log_every_n_steps=100).fit(quiet, datamodule=TinyData())
    for (name, a), b in zip(model.state_dict().items(), quiet.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_skipping_the_idle_risk_branch_changes_no_parameter():
    """During warm-up RADAC skips the risk branch (weight 0): the parameters equal those of an update that computes
    it and multiplies it by 0, as the released code does."""
    from ramac.objectives.risk import risk_value

    torch.manual_seed(0)
    skipping = tiny_radac(risk_warmup_iterations=10)
    computing = copy.deepcopy(skipping)
    update = type(computing).update

    def released(self, batch, generator):  # the risk branch always computed, multiplied by the weight 0
        original = self.actor.bc_loss

        def with_zero_risk(obs, actions, gen):
            loss = original(obs, actions, gen)
            return loss - 0.0 * risk_value(self.critic(obs, self.actor.actions_from_noise(obs, self._noise),
                                                       torch.rand(4) * 0.1, detach_params=True))
        sample_noise = self.actor.sample_noise

        def keep(batch_size, gen, device):
            self._noise = sample_noise(batch_size, gen, device)
            return self._noise
        self.actor.sample_noise, self.actor.bc_loss = keep, with_zero_risk
        try:
            return update(self, batch, generator)
        finally:
            del self.actor.sample_noise, self.actor.bc_loss

    computing.update = released.__get__(computing)
    for model in (skipping, computing):
        quiet_trainer(max_steps=4).fit(model, datamodule=TinyData())
    for (name, a), b in zip(skipping.state_dict().items(), computing.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_mean_cvar_mix_reaches_the_risk_term_with_the_normalised_term():
    """``distortion: mean_cvar`` (λ = 0.5, α = 0.1): the risk call's levels are the mix's map of uniform levels, so
    about λα + 1 − λ = 0.55 of them fall below α, and the rest spread over [α, 1]; usable with ``normalize_risk``."""
    model = tiny_radac(risk_weight=0.3, risk_warmup_iterations=0, normalize_risk=True, distortion="mean_cvar",
                       cvar_alpha=0.1, distortion_param=0.5, n_quantiles=256)
    calls = record_critic_calls(model)
    shares = []

    def check(metrics):
        risk_call = next(c for c in calls if c["detach"])
        calls.clear()
        taus = risk_call["taus"]
        shares.append(float((taus < 0.1).double().mean()))
        assert taus.max() > 0.5 and torch.isfinite(metrics["train/actor/loss"])

    check_each_update(model, check)
    quiet_trainer(max_steps=3).fit(model, datamodule=TinyData())
    assert sum(shares) / len(shares) == pytest.approx(0.55, abs=0.06)


def record_actor_chains(model) -> list[dict]:
    """Wrap the actor's and the reference's ``actions_from_noise``; each call appends the noise and the actions."""
    calls = []
    for name in ("actor", "actor_reference"):
        module = getattr(model, name, None)
        if module is None:
            continue
        chain = module.actions_from_noise

        def recording(obs, noise, chain=chain, name=name):
            out = chain(obs, noise)
            calls.append({"who": name, "noise": noise.detach().clone(), "actions": out.detach().clone()})
            return out

        module.actions_from_noise = recording
    return calls


@pytest.mark.parametrize("risk_weight", [0.3, 0.0])
@pytest.mark.parametrize("regularizer", ["w2_coupling", "sample_l2"])
def test_a_regulariser_replaces_the_bc_loss_after_the_warm_up(regularizer, risk_weight):
    """Before the switch: BC. After it: ``bc_weight · mean_b ||π_θ(s; ξ) − y||² − w · risk``, with ``y`` the frozen
    chain's actions from the same noise ``ξ`` (``w2_coupling``: the EMA actor frozen at the warm-up's last iteration)
    or the batch's actions (``sample_l2``); at risk weight 0 the regulariser alone."""
    model = tiny_radac(risk_weight=risk_weight, risk_warmup_iterations=3, regularizer=regularizer, bc_weight=2.0,
                       ema_start_iteration=0, ema_every=1, ema_decay=0.5)
    chains = record_actor_chains(model)
    batches, weights, frozen = [], [], {}

    def check(metrics):
        weight, loss = float(metrics["train/actor/risk_weight"]), float(metrics["train/actor/loss"])
        if model.iteration <= 3:  # the warm-up
            assert "train/actor/regularizer" not in metrics
            assert loss == pytest.approx(2.0 * float(metrics["train/actor/bc_loss"]), rel=1e-6)
        else:
            mine = next(c for c in chains if c["who"] == "actor")
            if regularizer == "w2_coupling":
                theirs = next(c for c in chains if c["who"] == "actor_reference")
                assert torch.equal(mine["noise"], theirs["noise"])  # the same noise through both chains
                other = theirs["actions"]
            else:
                other = batches[-1]
            expected = (mine["actions"] - other).pow(2).sum(-1).mean()
            assert float(metrics["train/actor/regularizer"]) == pytest.approx(float(expected), rel=1e-5)
            risk_term = weight * float(metrics["train/actor/risk"]) if weight > 0 else 0.0
            assert loss == pytest.approx(2.0 * float(expected) - risk_term, rel=1e-5)
        chains.clear()
        weights.append(weight)
        if model.iteration == 3 and regularizer == "w2_coupling":  # the end of the warm-up's last iteration
            frozen.update({k: v.clone() for k, v in model.actor_ema.state_dict().items()})

    update = model.update

    def remember(batch, generator):
        batches.append(batch.actions.detach().clone())
        return update(batch, generator)

    model.update = remember
    check_each_update(model, check)
    quiet_trainer(max_steps=6).fit(model, datamodule=TinyData())
    assert weights == pytest.approx([0.0, 0.0, 0.0, 0.0, risk_weight, risk_weight])
    if regularizer == "w2_coupling":
        # frozen at the end of iteration 3 (the warm-up's last): the EMA actor then, not the EMA actor now
        reference = dict(model.actor_reference.state_dict())
        assert all(torch.equal(v, frozen[k]) for k, v in reference.items())
        assert not all(torch.equal(v, model.actor_ema.state_dict()[k]) for k, v in reference.items())


def test_the_frozen_chain_can_come_from_a_bc_checkpoint_and_options_are_checked(tmp_path):
    donor = tiny_radac()
    path = tmp_path / "bc.ckpt"
    torch.save({"state_dict": {f"actor.{k}": v for k, v in donor.actor.state_dict().items()}}, path)
    model = tiny_radac(regularizer="w2_coupling", regularizer_reference=str(path), risk_warmup_iterations=0)
    for key, value in donor.actor.state_dict().items():
        assert torch.equal(model.actor_reference.state_dict()[key], value)
    with pytest.raises(ValueError, match="needs a behaviour-cloned chain"):
        tiny_radac(regularizer="w2_coupling", risk_warmup_iterations=0)
    with pytest.raises(ValueError, match="regularizer must be one of"):
        tiny_radac(regularizer="kl")
    with pytest.raises(ValueError, match="only used with regularizer: w2_coupling"):
        tiny_radac(regularizer_reference=str(path))
    with pytest.raises(ValueError, match="not a readable ramac checkpoint"):
        tiny_radac(regularizer="w2_coupling", regularizer_reference=str(tmp_path / "missing.ckpt"))
