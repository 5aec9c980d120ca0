"""A members run (``ramac.learners.members``) trains each member exactly as its solo run: every learner."""

from __future__ import annotations

import pytest
import torch
from helpers.tiny import TINY_LEARNERS, TinyData, quiet_trainer
from lightning.pytorch import seed_everything

from ramac.learners.members import Members, MemberSpec, build_member, member_checkpoint, member_specs

NAMES = sorted(TINY_LEARNERS)
SEEDS = (3, 4)


def _solo(name, seed, steps):
    seed_everything(seed, verbose=False)  # what `--seed_everything seed` does before the CLI builds the learner
    learner = TINY_LEARNERS[name].make(seed=seed)
    quiet_trainer(max_steps=steps).fit(learner, datamodule=TinyData())
    return learner


def _members(name, folder, seeds=SEEDS):
    template = TINY_LEARNERS[name].make()
    return Members([build_member(template, MemberSpec(s)) for s in seeds], [str(folder / f"seed{s}") for s in seeds])


@pytest.mark.parametrize("name", NAMES)
def test_each_member_equals_the_solo_run_of_its_seed_bit_for_bit(name, tmp_path):
    members = _members(name, tmp_path)
    quiet_trainer(max_steps=5).fit(members, datamodule=TinyData())
    assert members.iteration == 5 and members.trainer.global_step == 5
    for k, seed in enumerate(SEEDS):
        solo = _solo(name, seed, 5)
        assert members.members[k].iteration == 5
        got = members.members[k].state_dict()
        for key, value in solo.state_dict().items():
            assert torch.equal(value, got[key]), (seed, key)


def test_members_differ_from_each_other_and_a_member_option_applies(tmp_path):
    template = TINY_LEARNERS["radac"].make()
    members = Members([build_member(template, MemberSpec(0)), build_member(template, MemberSpec(0, model={
        "risk_weight": 0.5}))], [str(tmp_path / "a"), str(tmp_path / "b")])
    assert members.members[1].hparams.risk_weight == 0.5 and members.members[0].hparams.risk_weight == 0.05
    quiet_trainer(max_steps=3).fit(members, datamodule=TinyData())
    first, second = (m.actor.state_dict() for m in members.members)
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_member_options_and_lists_are_checked():
    template = TINY_LEARNERS["radac"].make()
    with pytest.raises(ValueError, match="does not take"):
        build_member(template, MemberSpec(0, model={"no_such_option": 1}))
    with pytest.raises(ValueError, match="count >= 1"):
        member_specs(0, 0, "runs")
    with pytest.raises(ValueError, match="one folder"):
        member_specs([{"seed": 0, "root_dir": "x"}, {"seed": 1, "root_dir": "x"}], 0, "runs")
    assert [(s.seed, s.root_dir) for s in member_specs(2, 5, "r")] == [(5, "r/seed5"), (6, "r/seed6")]


@pytest.mark.parametrize("name", ["radac", "cql"])
def test_a_members_checkpoint_resumes_exactly_and_exports_each_member_as_its_solo_checkpoint(name, tmp_path):
    straight = _members(name, tmp_path / "straight")
    quiet_trainer(max_steps=4).fit(straight, datamodule=TinyData())
    first = _members(name, tmp_path / "first")
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(first, datamodule=TinyData())
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    resumed = _members(name, tmp_path / "resumed")
    quiet_trainer(max_steps=4).fit(resumed, datamodule=TinyData(), ckpt_path=tmp_path / "two.ckpt")
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    # member 1 exported at iteration 2 and resumed solo to 4 equals the solo run of its seed
    checkpoint = torch.load(tmp_path / "two.ckpt", weights_only=False)
    exported = member_checkpoint(checkpoint, 1)
    torch.save(exported, tmp_path / "member1.ckpt")
    seed_everything(SEEDS[1], verbose=False)
    alone = TINY_LEARNERS[name].make(seed=SEEDS[1])
    solo_trainer = quiet_trainer(max_steps=2)
    solo_trainer.fit(alone, datamodule=TinyData())
    solo_trainer.save_checkpoint(tmp_path / "solo.ckpt")
    solo_checkpoint = torch.load(tmp_path / "solo.ckpt", weights_only=False)
    assert set(exported) == set(solo_checkpoint) and exported["ramac"]["seed"] == SEEDS[1]
    assert exported["hyper_parameters"] == dict(alone.hparams)
    for key, value in solo_checkpoint["state_dict"].items():
        assert torch.equal(value, exported["state_dict"][key]), key
    seed_everything(0, verbose=False)
    solo = TINY_LEARNERS[name].make(seed=SEEDS[1])
    quiet_trainer(max_steps=4).fit(solo, datamodule=TinyData(), ckpt_path=tmp_path / "member1.ckpt")
    for key, value in _solo(name, SEEDS[1], 4).state_dict().items():
        assert torch.equal(value, solo.state_dict()[key]), key


def test_a_members_checkpoint_refuses_other_members(tmp_path):
    first = _members("bc_diffusion", tmp_path / "a")
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(first, datamodule=TinyData())
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    other = _members("bc_diffusion", tmp_path / "b", seeds=(3, 5))
    with pytest.raises(ValueError, match="same members"):
        quiet_trainer(max_steps=4).fit(other, datamodule=TinyData(), ckpt_path=tmp_path / "two.ckpt")
    with pytest.raises(ValueError, match="holds one run, not members"):
        member_checkpoint({"ramac": {}}, 0)


@pytest.mark.parametrize("name", ["radac", "fql"])
def test_members_train_in_bf16_mixed_precision_as_their_solo_runs(name, tmp_path):
    members = _members(name, tmp_path)
    quiet_trainer(max_steps=3, precision="bf16-mixed").fit(members, datamodule=TinyData())
    seed_everything(SEEDS[0], verbose=False)
    solo = TINY_LEARNERS[name].make(seed=SEEDS[0])
    quiet_trainer(max_steps=3, precision="bf16-mixed").fit(solo, datamodule=TinyData())
    got = members.members[0].state_dict()
    for key, value in solo.state_dict().items():
        assert torch.equal(value, got[key]), key
