"""What is specific to BC, Diffusion-QL, FQL and RAFMAC (the shared checks are the contract suite's)."""

from __future__ import annotations

import pytest
import torch
from helpers.tiny import TinyData, quiet_trainer, tiny_bc, tiny_diffusion_ql, tiny_fql, tiny_rafmac


def _record_backward(model):
    records = []
    original = model.manual_backward

    def recording(loss, *args, **kwargs):
        before = {n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()}
        original(loss, *args, **kwargs)
        records.append({n: p.grad.clone() if p.grad is not None else None for n, p in model.named_parameters()}
                       | {"__before__": before})

    model.manual_backward = recording
    return records


def test_fql_distillation_target_and_one_step_policy_see_the_same_noise():
    model = tiny_fql()
    seen: dict[str, list] = {"flow": [], "onestep": []}
    flow_call, onestep_call = model.flow_actor.actions_from_noise, model.actor.raw_actions
    model.flow_actor.actions_from_noise = lambda obs, noise: seen["flow"].append(noise) or flow_call(obs, noise)
    model.actor.raw_actions = lambda obs, noise: seen["onestep"].append(noise) or onestep_call(obs, noise)
    quiet_trainer(max_steps=1).fit(model, datamodule=TinyData())
    # one-step calls: the critic target's next actions (fresh noise), then the distillation/Q pass
    assert len(seen["flow"]) == 1 and len(seen["onestep"]) == 2
    assert seen["flow"][0] is seen["onestep"][1] and not torch.equal(seen["onestep"][0], seen["onestep"][1])


def test_fql_q_term_reads_the_critic_with_detached_weights():
    model = tiny_fql()
    flags = []
    original = model.critic.forward
    model.critic.forward = lambda obs, actions, detach_params=False: flags.append(detach_params) or \
        original(obs, actions, detach_params)
    quiet_trainer(max_steps=1).fit(model, datamodule=TinyData())
    assert flags == [False, True]  # the TD loss on dataset actions, then the policy's Q term


@pytest.mark.parametrize("q_weight", [0.0, 2.5])
def test_diffusion_ql_actor_loss_is_bc_plus_eta_times_the_normalised_q_term(q_weight):
    model = tiny_diffusion_ql(q_weight=q_weight)
    trainer = quiet_trainer(max_steps=1, log_every_n_steps=1)
    trainer.fit(model, datamodule=TinyData())
    m = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert m["train/actor/loss"] == pytest.approx(m["train/actor/bc_loss"] + q_weight * m["train/actor/q_loss"])
    assert m["train/actor/q_loss"] != 0.0


def test_diffusion_ql_acts_with_a_candidate_picked_by_the_target_critic():
    torch.manual_seed(0)
    model = tiny_diffusion_ql(eval_candidates=6)
    obs = torch.randn(3, 3)
    chosen = model.act(obs, torch.Generator().manual_seed(1))
    candidates = model.actor.sample(obs.repeat_interleave(6, 0), torch.Generator().manual_seed(1)).view(3, 6, 2)
    assert all(any(torch.equal(chosen[v], candidates[v, c]) for c in range(6)) for v in range(3))
    single = tiny_diffusion_ql(eval_rule="single")
    assert single.act(obs, torch.Generator().manual_seed(1)).shape == (3, 2)


def test_rafmac_risk_gradient_reaches_the_student_only():
    """With BC and distillation off, the actor step's gradient is the risk term's: it reaches every student
    parameter, and no teacher or critic weight (iteration 1: the risk weight switches on after iteration 0, as
    RADAC's schedule)."""
    model = tiny_rafmac(bc_weight=0.0, distill_weight=0.0, risk_weight=1.0)
    records = _record_backward(model)
    quiet_trainer(max_steps=2).fit(model, datamodule=TinyData())
    actor_step = records[3]
    before = actor_step["__before__"]
    student = [n for n in before if n.startswith("actor.")]
    assert all(actor_step[n] is not None and actor_step[n].abs().sum() > 0 for n in student)
    teacher = [n for n in before if n.startswith("flow_actor.")]
    assert all(actor_step[n] is not None and not actor_step[n].abs().sum() > 0 for n in teacher)
    critic = [n for n in before if n.startswith("critic.")]
    assert all(torch.equal(actor_step[n], before[n]) for n in critic)  # the critic step's gradients, untouched


def test_rafmac_risk_reads_levels_below_cvar_alpha():
    model = tiny_rafmac(cvar_alpha=0.1)
    levels = []
    original = model.critic.forward

    def recording(obs, actions, taus, detach_params=False):
        if detach_params:  # the risk term and the logged risks at the policy's and the data's actions
            levels.append(taus.clone())
        return original(obs, actions, taus, detach_params)

    model.critic.forward = recording
    quiet_trainer(max_steps=2).fit(model, datamodule=TinyData())
    assert len(levels) == 4 and all(((t >= 0) & (t < 0.1)).all() for t in levels)


def test_every_bc_actor_clones_a_point_mass():
    """A fixed action for every state: after training, each BC actor acts near it."""
    from helpers.tiny import TinyData as Data

    class PointData(Data):
        def load_transitions(self):
            t = super().load_transitions()
            t.actions[:] = [0.4, -0.3]
            return t

    for actor in ("diffusion", "flow", "tanh_gaussian"):
        torch.manual_seed(0)
        model = tiny_bc(actor=actor, actor_lr=1e-2)
        quiet_trainer(max_steps=300).fit(model, datamodule=PointData(size=64, batch_size=32))
        acted = model.act(torch.randn(16, 3), torch.Generator().manual_seed(0))
        assert (acted - torch.tensor([0.4, -0.3])).abs().mean() < 0.1, actor
