"""Minari loading, the locomotion data module, and `ramac fit` on a D4RL-layout file and a Minari dataset."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from helpers.d4rl_files import rollout_arrays, write_d4rl_file

from ramac.cli.fit import main
from ramac.data.locomotion import StochasticD4RLDataModule
from ramac.data.minari_source import minari_transitions
from ramac.envs.hazards import Hazard

HAZARD = Hazard(kind="pose", probability=0.5, penalty=-50.0, low=-0.02, high=0.02, termination_factor=100.0)


@pytest.fixture
def minari_dataset(tmp_path, monkeypatch):
    """A local Minari dataset of Hopper-v5 random rollouts, made with Minari's own API."""
    import gymnasium as gym

    minari = pytest.importorskip("minari")
    from minari.data_collector.episode_buffer import EpisodeBuffer

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    arrays = rollout_arrays(episodes=12, max_steps=25, partial_tail=0)
    ends = np.flatnonzero(arrays["terminals"] | arrays["timeouts"])
    buffers, start = [], 0
    for episode, end in enumerate(ends):
        sl = slice(start, end + 1)
        buffers.append(EpisodeBuffer(
            id=episode,
            observations=np.concatenate([arrays["observations"][sl], arrays["next_observations"][end:end + 1]]),
            actions=arrays["actions"][sl], rewards=arrays["rewards"][sl],
            terminations=arrays["terminals"][sl], truncations=arrays["timeouts"][sl]))
        start = end + 1
    with pytest.warns(UserWarning, match="recommended|eval_env"):
        minari.create_dataset_from_buffers("ramac-test/hopper-random-v0", buffers, env=gym.make("Hopper-v5"),
                                           algorithm_name="random")
    return "ramac-test/hopper-random-v0", arrays, buffers


def test_minari_episodes_flatten_in_id_order(minari_dataset):
    dataset_id, arrays, buffers = minari_dataset
    t = minari_transitions(dataset_id, download=False)
    n = sum(len(b.actions) for b in buffers)
    assert len(t) == n == len(arrays["rewards"])
    assert np.allclose(t.observations, arrays["observations"], atol=1e-6)
    assert np.allclose(t.next_observations, arrays["next_observations"], atol=1e-6)
    assert np.array_equal(t.terminals, arrays["terminals"].astype(np.float32))
    assert t.episode_ends.sum() == len(buffers)
    with pytest.raises(FileNotFoundError, match="could not be loaded"):
        minari_transitions("ramac-test/absent-v0", download=False)


def test_data_module_relabels_checks_dimensions_and_normalises(tmp_path):
    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30), dtype=np.float64)
    dm = StochasticD4RLDataModule("hopper", "medium", source="file", path=str(path), hazard=HAZARD,
                                  normalize_observations=True)
    assert (dm.obs_dim, dm.action_dim, dm.max_action) == (11, 3, 1.0)
    assert "transitions" not in vars(dm)  # dimensions come from the env: building a learner loads no data
    t = dm.transitions
    assert dm.risky is not None and dm.risky.any() and dm.penalised.sum() > 0
    assert abs(t.observations.mean()) < 0.2 and dm.observation_stats is not None
    assert dm.description["path"] == str(path) and dm.description["hazard"]["penalty"] == -50.0
    again = StochasticD4RLDataModule("hopper", "medium", source="file", path=str(path), hazard=HAZARD,
                                     normalize_observations=True)
    assert again.description["sha256"] == dm.description["sha256"]
    walker = StochasticD4RLDataModule("walker2d", "medium", source="file", path=str(path))
    with pytest.raises(ValueError, match=r"obs dim 11 .* Walker2d-v5 has 17"):
        _ = walker.transitions


@pytest.mark.parametrize("with_next", [True, False])
def test_pose_hazard_fires_on_falls(tmp_path, with_next):
    """A terminal row's hazard is decided on the post-fall state, stored in the file or re-simulated;
    the following row (the next episode's reset pose) would never fire."""
    arrays = rollout_arrays(episodes=10, max_steps=60)
    assert arrays["terminals"].sum() >= 5
    path = write_d4rl_file(tmp_path / "hopper.hdf5", arrays, dtype=np.float64, next_observations=with_next)
    certain = Hazard(kind="pose", probability=1.0, penalty=-50.0, low=-0.15, high=0.15, termination_factor=100.0)
    dm = StochasticD4RLDataModule("hopper", "medium", path=str(path), hazard=certain)  # a path selects the file
    assert dm.source == "file"
    t = dm.transitions
    assert dm.statistics["terminal_next_states"] == ("stored" if with_next else "re-simulated")
    terminal = t.terminals == 1
    true_pitch = arrays["next_observations"][:-1][~arrays["timeouts"][:-1]][:, 1]  # rows kept by the reader
    np.testing.assert_allclose(t.next_observations[terminal], arrays["next_observations"][arrays["terminals"]],
                               atol=1e-6)  # re-simulation reproduces MuJoCo's step
    expected = (true_pitch < -0.15) | (true_pitch > 0.15)
    assert np.array_equal(dm.penalised, expected)
    assert dm.penalised[terminal].sum() >= 3  # falls past the pitch range are penalised
    following_pitch = arrays["observations"][1:][~arrays["timeouts"][:-1]][:, 1][terminal]
    assert not ((following_pitch < -0.15) | (following_pitch > 0.15)).any()  # reset poses: never risky
    assert np.array_equal(t.rewards, (arrays["rewards"][:-1][~arrays["timeouts"][:-1]] - 50.0 * expected)
                          .astype(np.float32))  # the stored reward plus the penalty


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(source="file"), "needs data.path"),
    (dict(source="minari"), "needs data.minari_id"),
    (dict(source="d4rl", path="x.hdf5"), "only used with data.source=file"),
    (dict(dataset="medium-random"), "data.dataset must be one of"),
    (dict(source="web"), "data.source must be"),
    (dict(source="zoo", dataset="random"), "the zoo makes"),
])
def test_data_module_option_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StochasticD4RLDataModule("hopper", **kwargs)


SMALL = ["--trainer.max_steps", "20", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary",
         "false", "--model.init_args.diffusion_steps", "3", "--model.init_args.n_quantiles", "4",
         "--model.init_args.risk_warmup_iterations", "5", "--data.init_args.batch_size", "32"]


def test_fit_hopper_config_on_a_d4rl_layout_file(repo_root, tmp_path):
    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30), dtype=np.float64,
                           next_observations=False)
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL,
          "--trainer.default_root_dir", str(tmp_path / "run"), "--data.init_args.source", "file",
          "--data.init_args.path", str(path), "--data.init_args.normalize_observations", "true"])
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 20
    data = ckpt["StochasticD4RLDataModule"]["data"]
    assert data["path"] == str(path) and data["hazard"]["low"] == -0.17 and data["normalize_observations"]
    assert not torch.equal(ckpt["state_dict"]["obs_normalizer.std"], torch.ones(11))


def test_fit_hopper_config_on_a_minari_dataset(repo_root, tmp_path, minari_dataset):
    dataset_id, _, _ = minari_dataset
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL,
          "--trainer.default_root_dir", str(tmp_path / "run"), "--data.init_args.source", "minari",
          "--data.init_args.minari_id", dataset_id, "--data.init_args.download", "false"])
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 20
    assert ckpt["StochasticD4RLDataModule"]["data"]["minari_id"] == dataset_id


def test_fit_with_rollout_evaluation_writes_metrics_and_plot(repo_root, tmp_path):
    import json

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL,
          "--trainer.default_root_dir", str(tmp_path / "run"), "--data.source", "file", "--data.path", str(path),
          "--trainer.callbacks.every_n_iterations", "10",  # the config's RolloutEvaluation
          "--trainer.callbacks.episodes", "3", "--trainer.callbacks.horizon", "50",
          "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.monitor", "eval/return_cvar_0.1",
          "--trainer.callbacks.mode", "max", "--trainer.callbacks.every_n_train_steps", "10",
          "--trainer.callbacks.dirpath", str(tmp_path / "best"), "--trainer.callbacks.filename", "best-{step}"])
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert [h["iteration"] for h in report["history"]] == [10.0, 20.0]
    last = report["history"][-1]
    assert last["episodes"] == 3 and last["episode_length"] <= 50
    assert 0.0 <= last["ood_action_rate"] <= 1.0 and "return_cvar_0.1" in last
    assert (tmp_path / "run" / "eval.png").stat().st_size > 5000
    best = max(report["history"], key=lambda h: h["return_cvar_0.1"])
    assert [p.name for p in (tmp_path / "best").iterdir()] == [f"best-step={int(best['iteration'])}.ckpt"]


def test_rollout_evaluation_also_evaluates_at_the_listed_iterations(repo_root, tmp_path):
    import json

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL,
          "--trainer.default_root_dir", str(tmp_path / "run"), "--data.source", "file", "--data.path", str(path),
          "--trainer.callbacks.every_n_iterations", "10", "--trainer.callbacks.at_iterations", "[3, 10, 14]",
          "--trainer.callbacks.episodes", "2", "--trainer.callbacks.horizon", "20"])
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert [h["iteration"] for h in report["history"]] == [3.0, 10.0, 14.0, 20.0]  # 10 once
    from ramac.callbacks import RolloutEvaluation
    with pytest.raises(ValueError, match="at_iterations must be iterations >= 1"):
        RolloutEvaluation(at_iterations=[0, 5])


def test_evaluate_command_is_deterministic(repo_root, tmp_path):
    import json

    from ramac.cli.evaluate import main as evaluate_main

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    data = ["--data.source", "file", "--data.path", str(path), "--model.diffusion_steps", "3",
            "--model.n_quantiles", "4"]
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL,
          "--trainer.default_root_dir", str(tmp_path / "run"), *data[:4]])
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    outs = []
    for name in ("a", "b"):
        evaluate_main(["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path", ckpt,
                       "--episodes", "3", "--horizon", "40", "--out", str(tmp_path / f"{name}.json"), *data])
        outs.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert outs[0] == outs[1]
    assert outs[0]["meta"]["iteration"] == 20 and outs[0]["metrics"]["episodes"] == 3
    evaluate_main(["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path", ckpt,
                   "--episodes", "3", "--horizon", "40", "--ood-max-actions", "7", "--out", str(tmp_path / "c.json"),
                   *data])
    sampled = json.loads((tmp_path / "c.json").read_text())
    assert sampled["metrics"]["returns"] == outs[0]["metrics"]["returns"]  # the sample leaves the rollouts alone
    assert sampled["meta"]["ood_max_actions"] == 7 and outs[0]["meta"]["ood_max_actions"] is None
    assert sampled["metrics"]["ood_action_rate"] * 7 == pytest.approx(round(sampled["metrics"]["ood_action_rate"] * 7))
    saved = next((tmp_path / "run").rglob("config.yaml"))  # the run's own resolved config (it holds ckpt_path)
    assert "ckpt_path" in saved.read_text()
    evaluate_main(["--config", str(saved), "--ckpt_path", ckpt, "--episodes", "3", "--horizon", "40",
                   "--out", str(tmp_path / "d.json")])
    assert json.loads((tmp_path / "d.json").read_text())["metrics"] == outs[0]["metrics"]


def test_a_members_run_evaluates_each_member_as_its_solo_run(repo_root, tmp_path):
    import json

    from ramac.cli.evaluate import main as evaluate_main

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    common = ["--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL, "--data.source", "file",
              "--data.path", str(path), "--trainer.callbacks.every_n_iterations", "10",
              "--trainer.callbacks.episodes", "2", "--trainer.callbacks.horizon", "30"]
    main(["fit", *common, "--trainer.default_root_dir", str(tmp_path / "solo"), "--seed_everything", "1"])
    main(["fit", *common, "--trainer.default_root_dir", str(tmp_path / "group"), "--members", "2"])
    solo = json.loads((tmp_path / "solo" / "eval.json").read_text())
    member = json.loads((tmp_path / "group" / "seed1" / "eval.json").read_text())
    assert member == solo and [h["iteration"] for h in member["history"]] == [10.0, 20.0]
    assert json.loads((tmp_path / "group" / "seed0" / "eval.json").read_text()) != solo
    group_ckpt = str(tmp_path / "group" / "checkpoints" / "last.ckpt")
    evaluate = ["--episodes", "2", "--horizon", "30", "--data.source", "file", "--data.path", str(path)]
    group_config = next((tmp_path / "group").glob("lightning_logs/version_0/config.yaml"))
    evaluate_main(["--config", str(group_config), "--ckpt_path", group_ckpt, "--member", "1",
                   "--out", str(tmp_path / "member.json"), *evaluate])
    small = ["--model.diffusion_steps", "3", "--model.n_quantiles", "4"]
    evaluate_main(["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path",
                   str(tmp_path / "group" / "seed1" / "checkpoints" / "last.ckpt"), "--out",
                   str(tmp_path / "exported.json"), *evaluate, *small])
    evaluate_main(["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path",
                   str(tmp_path / "solo" / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "solo.json"),
                   *evaluate, *small])
    scores = [json.loads((tmp_path / f"{n}.json").read_text())["metrics"] for n in ("member", "exported", "solo")]
    assert scores[0] == scores[1] == scores[2]
    with pytest.raises(ValueError, match="holds 2 members"):
        evaluate_main(["--config", str(group_config), "--ckpt_path", group_ckpt, *evaluate])


def test_kept_checkpoints_and_ramac_select_re_evaluate_each_rule(repo_root, tmp_path):
    import json

    from ramac.cli.evaluate import main as evaluate_main
    from ramac.cli.select import main as select_main

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    data = ["--data.source", "file", "--data.path", str(path)]
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL, *data,
          "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.callbacks.every_n_iterations", "10",
          "--trainer.callbacks.episodes", "2", "--trainer.callbacks.horizon", "30",
          "--trainer.callbacks.keep_checkpoints", "true", "--trainer.log_every_n_steps", "5"])
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("eval-*.ckpt"))
    assert kept == ["eval-00000010.ckpt", "eval-00000020.ckpt"]
    select_main([str(tmp_path / "run"), "--episodes", "3", "--seed", "777"])
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert set(selection["rules"]) == {"last", "best_return", "best_cvar", "lowest_bc_loss"}
    history = json.loads((tmp_path / "run" / "eval.json").read_text())["history"]
    last = selection["rules"]["last"]
    assert last["iteration"] == 20 and last["reported_mean"] == pytest.approx(history[-1]["return_mean"])
    # the last rule's re-evaluation is `ramac evaluate` of last.ckpt on the same fresh episodes
    evaluate_main(["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path",
                   str(tmp_path / "run" / "checkpoints" / "last.ckpt"), "--episodes", "3", "--seed", "777",
                   "--horizon", "30", "--ood-kappa", "0", "--out", str(tmp_path / "last.json"), *data,
                   "--model.diffusion_steps", "3", "--model.n_quantiles", "4"])
    assert last["reevaluated_mean"] == pytest.approx(json.loads((tmp_path / "last.json").read_text())
                                                     ["metrics"]["return_mean"])
    stamp = (tmp_path / "run" / "selection.json").stat().st_mtime_ns
    select_main([str(tmp_path / "run"), "--episodes", "3", "--seed", "777"])  # same options: skipped
    assert (tmp_path / "run" / "selection.json").stat().st_mtime_ns == stamp


def test_ramac_calibrate_compares_the_critic_with_monte_carlo_returns(repo_root, tmp_path):
    import json

    from ramac.cli.calibrate import main as calibrate_main

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    data = ["--data.source", "file", "--data.path", str(path)]
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), *SMALL, *data,
          "--trainer.default_root_dir", str(tmp_path / "run")])
    common = ["--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path",
              str(tmp_path / "run" / "checkpoints" / "last.ckpt"), "--pairs", "4", "--copies", "3", "--horizon",
              "5", *data, "--model.diffusion_steps", "3", "--model.n_quantiles", "4"]
    for name in ("a", "b"):
        calibrate_main([*common, "--out", str(tmp_path / f"{name}.json")])
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a", "b"))
    assert first == second  # seeded: the same pairs, rollouts and figures
    returns = np.array(first["returns"])
    assert returns.shape == (4, 3) and first["meta"]["horizon"] == 5
    assert 0 < first["meta"]["risky_pairs"] <= 2
    figures = first["figures"]["all"]
    assert figures["pairs"] == 4 and 0.0 <= figures["coverage_0.5"] <= 1.0
    assert figures["return_mean"] == pytest.approx(returns.mean(), abs=1e-3)
    assert (tmp_path / "a.png").stat().st_size > 5000
    from ramac.cli.calibrate import main as again

    with pytest.raises(TypeError, match="distributional critic"):
        again([*common[:2], "--ckpt_path", common[3], "--model", "ramac.learners.BC", *data])


def test_monte_carlo_returns_of_one_step_are_the_step_reward():
    from ramac.envs.hazards import Hazard
    from ramac.evaluation.monte_carlo import discounted_horizon, monte_carlo_returns

    assert discounted_horizon(0.99) == 688 and 0.99 ** 688 <= 1e-3 < 0.99 ** 687
    arrays = rollout_arrays(episodes=2, max_steps=20)
    observations, actions = arrays["observations"][:3], arrays["actions"][:3]
    plain = monte_carlo_returns("Hopper-v5", None, observations, actions, lambda o: np.zeros((len(o), 3)), copies=2,
                                horizon=1, discount=0.99, seed=0)
    # one step from the rebuilt state: the environment's reward for that transition, in every copy
    assert np.allclose(plain, np.asarray(arrays["rewards"][:3])[:, None], atol=1e-6)
    from ramac.envs.resimulation import simulate_next_observations

    certain = Hazard("velocity", probability=1.0, penalty=-100.0, obs_index=8, max_velocity=1e-3)
    risky = certain.is_risky(simulate_next_observations("Hopper-v5", observations, actions))
    assert risky.any()
    fined = monte_carlo_returns("Hopper-v5", certain, observations, actions, lambda o: np.zeros((len(o), 3)),
                                copies=2, horizon=1, discount=0.99, seed=0)
    assert np.allclose(fined - plain, -100.0 * risky[:, None], atol=1e-6)
    coin = Hazard("velocity", probability=0.5, penalty=-100.0, obs_index=8, max_velocity=1e-3)
    drawn = monte_carlo_returns("Hopper-v5", coin, observations[risky], actions[risky],
                                lambda o: np.zeros((len(o), 3)), copies=40, horizon=1, discount=0.99, seed=0)
    assert 0 < (drawn < plain[risky][:, :1] - 50).mean() < 1  # each copy draws its own penalty


def test_the_energy_hazard_takes_its_threshold_from_the_data_and_relabels_them(tmp_path):
    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    hazard = Hazard(kind="energy", probability=1.0, penalty=-50.0, energy_quantile=0.8)
    dm = StochasticD4RLDataModule("hopper", "medium", path=str(path), hazard=hazard)
    plain = StochasticD4RLDataModule("hopper", "medium", path=str(path))
    energies = (plain.transitions.actions.astype(np.float64) ** 2).sum(-1)
    threshold = np.quantile(energies, 0.8)
    assert dm.hazard.max_energy == pytest.approx(threshold)  # asking for the hazard loads the data
    charged = energies > threshold
    assert np.array_equal(dm.risky, charged) and np.array_equal(dm.penalised, charged)  # probability 1
    np.testing.assert_allclose(dm.transitions.rewards, plain.transitions.rewards - 50.0 * charged, rtol=1e-6)
    assert dm.description["hazard"]["max_energy"] == pytest.approx(threshold)
