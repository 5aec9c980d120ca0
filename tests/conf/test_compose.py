"""Configs composed as task × algorithm (ramac.cli.compose): every composition parses, per-task values
survive the merge, the short forms equal the long form, and the released values reach the learner."""

from __future__ import annotations

import os

import pytest
import yaml

from ramac.cli.compose import composition, expand
from ramac.cli.fit import build_cli
from ramac.envs.hazards import Hazard

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf")
TASKS = sorted(f[:-5] for f in os.listdir(os.path.join(CONF, "tasks")) if f != "variants.yaml")
ALGOS = sorted(f[:-5] for f in os.listdir(os.path.join(CONF, "algos")) if f.endswith(".yaml") and f != "variants.yaml")
with open(os.path.join(CONF, "algos", "variants.yaml")) as _handle:
    VARIANTS = yaml.safe_load(_handle)
with open(os.path.join(CONF, "tasks", "variants.yaml")) as _handle:
    TASK_VARIANTS = yaml.safe_load(_handle)

# the hazard of each task: released RAMAC code, environment/configs/<task>.yaml
HAZARDS = {
    "halfcheetah-medium-expert": dict(kind="velocity", obs_index=8, max_velocity=10.0, probability=0.05, penalty=-70.0),
    "halfcheetah-medium-replay": dict(kind="velocity", obs_index=8, max_velocity=5.0, probability=0.05, penalty=-60.0),
    "hopper-medium-expert": dict(kind="pose", obs_index=1, low=-0.17, high=0.04, probability=0.1, penalty=-50.0,
                                 termination_factor=100.0),
    "hopper-medium-replay": dict(kind="pose", obs_index=1, low=-0.1, high=0.1, probability=0.1, penalty=-50.0,
                                 termination_factor=2.0),
    "walker2d-medium-expert": dict(kind="pose", obs_index=1, low=-0.5, high=0.5, probability=0.1, penalty=-30.0,
                                   termination_factor=2.0),
    "walker2d-medium-replay": dict(kind="pose", obs_index=1, low=-0.5, high=0.5, probability=0.1, penalty=-30.0,
                                   termination_factor=2.0),
}

# the released configs/radac.yaml table (ICML release), column by column: lr_actor, lr_critic, eta (risk weight),
# tau (target update rate), grad_norm, N quantiles, emb_dim, q_clip, lambda_bc, eta warm-up steps
RELEASED = {
    "halfcheetah-medium-expert": (3e-4, 5e-5, 0.02, 0.005, 5.0, 32, 128, 300.0, 1.0, 0),
    "halfcheetah-medium-replay": (3e-4, 5e-5, 0.02, 0.005, 5.0, 16, 64, 300.0, 1.0, 0),
    "hopper-medium-expert": (3e-4, 1e-5, 0.05, 0.005, 5.0, 16, 64, 300.0, 1.0, 300_000),
    "hopper-medium-replay": (3e-4, 1e-5, 0.05, 0.005, 5.0, 16, 64, 150.0, 1.5, 300_000),
    "walker2d-medium-expert": (3e-4, 1e-5, 0.05, 0.005, 5.0, 16, 64, 300.0, 1.5, 300_000),
    "walker2d-medium-replay": (3e-4, 5e-6, 0.02, 0.005, 3.0, 8, 32, 300.0, 1.0, 300_000),
}
COLUMNS = ("actor_lr", "critic_lr", "risk_weight", "target_update_rate", "max_grad_norm", "n_quantiles",
           "critic_embedding_dim", "target_clip", "bc_weight", "risk_warmup_iterations")



def parse(*argv: str):
    """The configuration and objects a command line gives (no training; data are not loaded)."""
    return build_cli([*argv, "--trainer.logger", "false"], run=False)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("task", TASKS)
def test_every_composition_parses_and_keeps_its_per_task_values(task, algo):
    cli = parse("--algo", algo, "--task", task, "--conf_dir", CONF)
    assert cli.config.trainer.default_root_dir == os.path.join("runs", algo, task)
    tasks = ([TASK_VARIANTS[task]] if task in TASK_VARIANTS else []) + [task]  # a task variant's base first
    with open(os.path.join(CONF, "tasks", f"{tasks[0]}.yaml")) as handle:
        task_file = yaml.safe_load(handle)
    assert cli.config.trainer.max_steps == task_file["trainer"]["max_steps"]
    assert cli.config.data.class_path == task_file["data"]["class_path"]
    expected = {}
    for name in ([VARIANTS[algo]] if algo in VARIANTS else []) + [algo]:  # a variant's base first (compose)
        for task_name in tasks:
            override = os.path.join(CONF, "algos", name, f"{task_name}.yaml")
            if os.path.isfile(override):
                with open(override) as handle:
                    expected.update(yaml.safe_load(handle)["model"]["init_args"])
    for key, value in expected.items():
        got = cli.model.hparams[key]
        assert (tuple(got) if isinstance(got, list | tuple) else got) == \
               (tuple(value) if isinstance(value, list) else value), (task, algo, key)


@pytest.mark.parametrize("task", TASKS)
def test_the_short_form_is_the_long_form(task):
    short = parse("--config", os.path.join(CONF, f"{task}.yaml"))
    long = parse(*composition("radac", task, CONF), "--trainer.default_root_dir", os.path.join("runs", "radac", task))
    assert short.config == long.config
    assert os.path.realpath(os.path.join(CONF, "hopper.yaml")) == os.path.join(CONF, "hopper-medium-expert.yaml")


@pytest.mark.parametrize("task", sorted(HAZARDS))
def test_task_configs_give_radac_the_released_parameters(task):
    cli = parse("--algo", "radac", "--task", task, "--conf_dir", CONF)
    assert type(cli.model).__name__ == "RADAC"
    assert cli.datamodule.hazard == Hazard(**HAZARDS[task])
    assert f"{cli.datamodule.env}-{cli.datamodule.dataset}" == task
    for key, released in zip(COLUMNS, RELEASED[task], strict=True):
        value = cli.model.hparams[key]
        if key == "target_clip":
            assert tuple(value) == (-released, released), (task, key)
        else:
            assert value == released and type(value) is type(released), (task, key, value)
    # the quantile counts: N online, and the target and risk levels default to N (released: one N for all)
    assert cli.model.hparams["n_target_quantiles"] is None and cli.model.hparams["n_risk_quantiles"] is None


def test_each_kind_of_value_lives_in_one_kind_of_file():
    """Hazards, data and run length only in task files; the learner's class (and values it takes on every task)
    only in an algorithm file; its per-task values only in the (algorithm, task) file; the short forms hold
    nothing but their composition."""
    for root, _, files in os.walk(CONF):
        for name in files:
            path = os.path.join(root, name)
            with open(path) as handle:
                content = yaml.safe_load(handle)
            where = os.path.relpath(path, CONF).split(os.sep)
            if where[0] == "sweeps":  # sweep files: checked by tests/experiments/test_spec.py
                continue
            if where == ["algos", "variants.yaml"]:
                assert all(base in ALGOS for base in content.values()), content
            elif where == ["tasks", "variants.yaml"]:
                assert all(base in TASKS and variant in TASKS for variant, base in content.items()), content
            elif where[0] == "tasks":
                assert "model" not in content, path
            elif where[0] == "algos" and len(where) == 2:  # the class, and values common to every task
                assert set(content) == {"model"} and "class_path" in content["model"], path
                assert set(content["model"]) <= {"class_path", "init_args"}, path
            elif where[0] == "algos":
                assert set(content) == {"model"} and set(content["model"]) == {"init_args"}, path
            else:
                assert set(content) == {"compose"}, path


def test_expansion_places_and_errors():
    assert expand(["fit", "--trainer.max_steps", "3"]) == ["fit", "--trainer.max_steps", "3"]  # nothing to do
    out = expand(["fit", "--algo=radac", "--task", "bandit", "--conf_dir", CONF, "--trainer.max_steps", "3"])
    assert out == ["fit", *composition("radac", "bandit", CONF), "--trainer.default_root_dir",
                   os.path.join("runs", "radac", "bandit"), "--trainer.max_steps", "3"]
    mine = expand(["--config", os.path.join(CONF, "bandit.yaml"), "--trainer.default_root_dir", "mine"])
    assert mine.count("--trainer.default_root_dir") == 1 and mine[-1] == "mine"
    with pytest.raises(ValueError, match="--algo and --task go together"):
        expand(["--algo", "radac"])
    with pytest.raises(FileNotFoundError, match=r"--task hopper-medium: no .*hopper-medium.yaml \(known: bandit, "):
        expand(["--algo", "radac", "--task", "hopper-medium", "--conf_dir", CONF])
    with pytest.raises(FileNotFoundError, match="--algo radca: no"):
        expand(["--algo", "radca", "--task", "bandit", "--conf_dir", CONF])
    with pytest.raises(ValueError, match="one composition per run"):
        expand(["--config", os.path.join(CONF, "bandit.yaml"), "--config", os.path.join(CONF, "hopper.yaml")])


def test_a_compose_file_with_other_keys_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("compose: {algo: radac, task: bandit}\ntrainer: {max_steps: 3}\n")
    with pytest.raises(ValueError, match=r"--config .*bad.yaml: a compose file holds only"):
        expand(["--config", str(bad)])


RARE_ENERGY = {"hopper-medium-expert-energy-rare": (0.01, -500.0)}  # the same expected cost, ten times rarer


@pytest.mark.parametrize("variant", sorted(TASK_VARIANTS))
def test_a_task_variant_is_its_base_with_the_energy_hazard(variant):
    """The energy tasks: the base task's data, run length and evaluation, and RADAC's per-task values for the base
    (the halfcheetah ones are not the defaults), with the action-energy hazard."""
    base = TASK_VARIANTS[variant]
    got, want = parse("--algo", "radac", "--task", variant, "--conf_dir", CONF), \
        parse("--algo", "radac", "--task", base, "--conf_dir", CONF)
    assert got.config.model == want.config.model and got.config.trainer.max_steps == want.config.trainer.max_steps
    assert (got.datamodule.env, got.datamodule.dataset) == (want.datamodule.env, want.datamodule.dataset)
    hazard = got.datamodule._hazard
    probability, penalty = RARE_ENERGY.get(variant, (0.1, HAZARDS[base]["penalty"]))
    assert hazard == Hazard(kind="energy", probability=probability, penalty=penalty, energy_quantile=0.9)
