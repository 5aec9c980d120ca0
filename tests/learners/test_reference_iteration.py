"""The fast RADAC update equals a slow loop-by-loop reference written from the paper (tests/reference_radac.py)."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.reference_radac import Reference
from helpers.tiny import TinyData, quiet_trainer, tiny_radac


def _record_iterations(model, iterations):
    records = []
    update = model.update

    def recording(batch, generator):
        state = generator.get_state()
        metrics = update(batch, generator)
        records.append({"batch": [x.clone() for x in batch], "generator": state,
                        "metrics": {k: float(v) for k, v in metrics.items()},
                        "grads": {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
                        "state": copy.deepcopy(model.state_dict())})
        return metrics

    model.update = recording
    quiet_trainer(max_steps=iterations).fit(model, datamodule=TinyData(batch_size=4))
    return records


def _close(fast, slow, what, rtol=1e-4, atol=1e-6):
    torch.testing.assert_close(fast.double(), slow, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}")


@pytest.mark.parametrize("pairing", ["standard", "released"])
def test_fast_update_matches_the_slow_reference(pairing):
    hp = dict(obs_dim=3, action_dim=2, n_quantiles=3, critic_embedding_dim=6, critic_hidden_dim=8,
              actor_hidden_dim=8, diffusion_steps=3, critic_lr=3e-3, actor_lr=3e-3, risk_weight=0.7,
              risk_warmup_iterations=1, target_clip=(-1.5, 1.5), max_grad_norm=0.5, ema_start_iteration=1,
              ema_every=2, ema_decay=0.6, target_update_rate=0.3, bc_weight=1.3, quantile_pairing=pairing)
    model = tiny_radac(**hp)
    reference = Reference(model.state_dict(), dict(model.hparams))
    records = _record_iterations(model, 4)
    clipped = 0
    for iteration, record in enumerate(records):
        generator = torch.Generator()
        generator.set_state(record["generator"])
        out = reference.iteration(record["batch"], generator, iteration)
        metrics = record["metrics"]
        assert metrics["train/critic/loss"] == pytest.approx(sum(out["critic_losses"]) / 2, rel=1e-5)
        assert metrics["train/actor/bc_loss"] == pytest.approx(out["bc_loss"], rel=1e-5)
        assert metrics["train/actor/risk"] == pytest.approx(out["risk"], rel=1e-5, abs=1e-7)
        assert out["risk_weight"] == (0.7 if iteration > 1 else 0.0)  # warm-up: off at iterations 0 and 1
        assert metrics["train/actor/risk_weight"] == pytest.approx(out["risk_weight"])
        assert metrics["train/actor/loss"] == pytest.approx(out["actor_loss"], rel=1e-5, abs=1e-7)
        clipped += metrics["train/critic/grad_norm"] > 0.5
        for name, grad in {**out["critic_grads"], **out["actor_grads"]}.items():
            _close(record["grads"][name], grad, f"iteration {iteration}, clipped gradient of {name}")
        for name, value in reference.p.items():
            if name in record["state"]:
                _close(record["state"][name], value, f"iteration {iteration}, {name} after the update", atol=1e-5)
    assert clipped, "the test should exercise the gradient clip"
