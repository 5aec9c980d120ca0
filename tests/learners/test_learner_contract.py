"""What every learner must do, checked for each entry of ``helpers.tiny.TINY_LEARNERS``."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.tiny import TINY_LEARNERS, TinyData, quiet_trainer

NAMES = sorted(TINY_LEARNERS)


def _grads(module):
    return {n: (p.grad.clone() if p.grad is not None else None) for n, p in module.named_parameters()}


def _changed(before, after):
    return {n for n, g in after.items() if g is not None and (before[n] is None or not torch.equal(before[n], g))}


@pytest.mark.parametrize("name", NAMES)
def test_each_optimizer_step_reaches_its_parameters_and_no_others(name):
    """Per backward pass of an iteration: every parameter of that step gets a gradient, no other gradient
    changes, and target/EMA networks never get one (TorchRL's per-loss gradient test, generalised)."""
    spec = TINY_LEARNERS[name]
    model = spec.make(risk_weight=1.0) if name == "radac" else spec.make()  # RADAC's default weight is tiny
    records = []
    original = model.manual_backward

    def recording(loss, *args, **kwargs):
        before = _grads(model)
        original(loss, *args, **kwargs)
        records.append((before, _grads(model)))

    model.manual_backward = recording
    quiet_trainer(max_steps=1).fit(model, datamodule=TinyData())
    assert len(records) == len(spec.steps)
    for (before, after), prefixes in zip(records, spec.steps, strict=True):
        owned = {n for n in after if n.startswith(prefixes)}
        assert _changed(before, after) == owned
        assert all(after[n].abs().sum() > 0 for n in owned), [n for n in owned if not after[n].abs().sum() > 0]
    assert all(g is None for n, g in records[-1][1].items() if n.startswith(spec.frozen))


@pytest.mark.parametrize("name", NAMES)
def test_one_iteration_moves_every_trained_parameter_and_counts_one_step(name):
    spec = TINY_LEARNERS[name]
    model = spec.make()
    before = copy.deepcopy(dict(model.named_parameters()))
    trainer = quiet_trainer(max_steps=3)
    trainer.fit(model, datamodule=TinyData())
    assert model.iteration == 3 and trainer.global_step == 3
    trained = {n for prefixes in spec.steps for n in before if n.startswith(prefixes)}
    frozen_or_trained = trained | {n for n in before if n.startswith(spec.frozen)}
    assert frozen_or_trained == set(before), f"parameters in no step: {sorted(set(before) - frozen_or_trained)}"
    unmoved = [n for n in trained if torch.equal(before[n], dict(model.named_parameters())[n])]
    assert not unmoved


@pytest.mark.parametrize("name", NAMES)
def test_an_update_with_no_counted_step_is_refused(name):
    model = TINY_LEARNERS[name].make()
    model.optimize = lambda *args, **kwargs: type(model).optimize(model, *args, **{**kwargs, "counted": False})
    with pytest.raises(RuntimeError, match="counted optimizer steps"):
        quiet_trainer(max_steps=1).fit(model, datamodule=TinyData())


@pytest.mark.parametrize("name", NAMES)
def test_act_is_in_the_action_box_and_seeded(name):
    model = TINY_LEARNERS[name].make(max_action=0.5)
    obs = torch.randn(6, 3)
    first = model.act(obs, torch.Generator().manual_seed(3))
    assert first.shape == (6, 2) and first.abs().max() <= 0.5
    assert torch.equal(first, model.act(obs, torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("name", NAMES)
def test_resume_from_a_checkpoint_repeats_the_uninterrupted_run(name, tmp_path):
    spec = TINY_LEARNERS[name]

    def make():  # same initial weights each time, as `--seed_everything` gives the CLI
        torch.manual_seed(0)
        return spec.make()

    straight = make()
    quiet_trainer(max_steps=4).fit(straight, datamodule=TinyData())
    first = make()
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(first, datamodule=TinyData())
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    resumed = make()
    quiet_trainer(max_steps=4).fit(resumed, datamodule=TinyData(), ckpt_path=tmp_path / "two.ckpt")
    assert resumed.iteration == 4
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


@pytest.mark.parametrize("name", NAMES)
def test_bf16_mixed_precision_trains(name):
    model = TINY_LEARNERS[name].make()
    before = copy.deepcopy(model.state_dict())
    quiet_trainer(max_steps=3, precision="bf16-mixed").fit(model, datamodule=TinyData())
    assert model.iteration == 3
    assert any(not torch.equal(before[n], v) for n, v in model.state_dict().items())
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_float16_mixed_precision_is_refused_with_a_clear_message(name):
    # On CPU Lightning turns precision="16-mixed" into bf16-mixed; an explicit plugin keeps the GradScaler.
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(ValueError, match="bf16-mixed"):
        quiet_trainer(max_steps=1, plugins=[plugin]).fit(TINY_LEARNERS[name].make(), datamodule=TinyData())
