"""The ``ramac`` CLI in-process: config, checkpoints, exact resume, the bandit report."""

from __future__ import annotations

import csv
import json
import os

import pytest
import torch
import yaml
from helpers.tiny import SMALL_BANDIT_ARGS as SMALL

from ramac.cli import console
from ramac.cli.errors import one_line
from ramac.cli.fit import IterationProgressBar, build_cli, main


def fit(repo_root, root, *extra):
    main(["fit", "--config", os.path.join(repo_root, "conf", "bandit.yaml"), *SMALL,
          "--trainer.default_root_dir", str(root), *extra])


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_fit_writes_config_checkpoint_and_report(repo_root, tmp_path):
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "12")
    ckpt = load(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 12 and ckpt["ramac"]["iteration"] == 12
    assert ckpt["hyper_parameters"]["obs_dim"] == 2 and ckpt["hyper_parameters"]["diffusion_steps"] == 3
    assert ckpt["BanditDataModule"]["data"]["transitions"] == 256
    report = json.loads((tmp_path / "run" / "bandit.json").read_text())
    assert report["iterations"] == 12 and 0.0 <= report["safe_fraction_learner"] <= 1.0
    for who in ("behaviour", "bc", "learner"):  # every sample is in the centre, on the ring or between
        total = sum(report[f"{region}_fraction_{who}"] for region in ("safe", "ring", "between"))
        assert total == pytest.approx(1.0), who
    assert report["ring_fraction_behaviour"] > 0.45 and report["between_fraction_behaviour"] < 0.05
    assert (tmp_path / "run" / "bandit.png").stat().st_size > 10_000
    configs = list((tmp_path / "run").rglob("config.yaml"))
    assert configs, "LightningCLI should save the resolved config"
    saved = yaml.safe_load(configs[0].read_text())
    assert saved["model"]["init_args"]["risk_weight"] == 0.5


def test_resume_is_exact(repo_root, tmp_path):
    fit(repo_root, tmp_path / "straight", "--trainer.max_steps", "30")
    fit(repo_root, tmp_path / "split", "--trainer.max_steps", "20")
    fit(repo_root, tmp_path / "split", "--trainer.max_steps", "30", "--ckpt_path", "last")
    straight = load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = load(tmp_path / "split" / "checkpoints" / "last.ckpt")
    assert resumed["ramac"]["iteration"] == 30 and resumed["global_step"] == 30
    for name, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][name]), name
    for opt_a, opt_b in zip(straight["optimizer_states"], resumed["optimizer_states"], strict=True):
        for key, state in opt_a["state"].items():
            for field, value in state.items():
                assert torch.equal(value, opt_b["state"][key][field]), (key, field)
    ref_a = straight["callbacks"]["BanditReport"]["reference"]
    ref_b = resumed["callbacks"]["BanditReport"]["reference"]
    assert all(torch.equal(ref_a[k], ref_b[k]) for k in ref_a)
    a = json.loads((tmp_path / "straight" / "bandit.json").read_text())
    b = json.loads((tmp_path / "split" / "bandit.json").read_text())
    assert a == b


def test_resume_refuses_a_different_seed(repo_root, tmp_path):
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "10")
    with pytest.raises(ValueError, match="seed"):
        fit(repo_root, tmp_path / "run", "--trainer.max_steps", "20", "--ckpt_path", "last",
            "--seed_everything", "3")


def test_print_config_shows_every_default(repo_root, capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--config", os.path.join(repo_root, "conf", "bandit.yaml"), "--print_config"])
    printed = yaml.safe_load(capsys.readouterr().out)
    init = printed["model"]["init_args"]
    assert init["quantile_pairing"] == "standard" and init["cvar_alpha"] == 0.1 and init["discount"] == 0.99


def test_progress_bar_counts_iterations_not_epochs(repo_root, tmp_path):
    cli = build_cli(["--config", os.path.join(repo_root, "conf", "bandit.yaml"), "--trainer.max_steps", "2500",
                     "--trainer.default_root_dir", str(tmp_path)], run=False)
    bar = cli.trainer.progress_bar_callback
    assert isinstance(bar, IterationProgressBar)
    bar._trainer = cli.trainer  # attached by Lightning at setup
    assert bar._get_train_description(1) == "Epoch 1 (run: 2,500 iterations)"
    off = build_cli(["--config", os.path.join(repo_root, "conf", "bandit.yaml"), "--trainer.enable_progress_bar",
                     "false", "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert off.trainer.progress_bar_callback is None


def console_error(monkeypatch, capsys, *argv):
    """Run the ``ramac`` console script in-process; return its stderr, which must be exactly one line."""
    monkeypatch.setattr("sys.argv", ["ramac", *argv])
    monkeypatch.delenv("RAMAC_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        console()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ramac: error: "), err
    return lines[0]


@pytest.mark.parametrize(("option", "expected"), [
    (["--model.init_args.risk_weight", "abc"], "--model.init_args.risk_weight: Expected a <class 'float'>"),
    (["--model.risk_weight", "abc"], "--model.init_args.risk_weight: Expected a <class 'float'>"),
    (["--model.init_args.distortion", "foo"], "--model.init_args.distortion: Expected a typing.Literal"),
    (["--model.init_args.nonexistent", "1"], "--model.init_args: Option 'nonexistent' is not accepted"),
    (["--model.class_path", "ramac.learners.NOPE"], "--model.class_path: module 'ramac.learners' has no"),
    (["--trainer.max_steps", "x"], "--trainer.max_steps: Expected a <class 'int'>"),
    (["--data.init_args.dataset_size", "x"], "--data.init_args.dataset_size: Expected a <class 'int'>"),
    (["--model.init_args.ema_decay", "1.5"], "RADAC: ema_decay must be in [0, 1), got 1.5"),
])
def test_parse_errors_are_one_line_naming_the_key(repo_root, monkeypatch, capsys, option, expected):
    line = console_error(monkeypatch, capsys, "fit", "--config", os.path.join(repo_root, "conf", "bandit.yaml"),
                         *option)
    assert expected in line


def test_named_files_that_are_wrong_are_one_line_errors(repo_root, tmp_path, monkeypatch, capsys):
    bandit = os.path.join(repo_root, "conf", "bandit.yaml")
    assert "--config nothere.yaml: no such file" in console_error(monkeypatch, capsys, "fit", "--config",
                                                                  "nothere.yaml")
    (tmp_path / "bad.yaml").write_text("model: [\n")
    line = console_error(monkeypatch, capsys, "fit", "--config", "bad.yaml")
    assert "--config bad.yaml: not valid YAML" in line and "line 2" in line
    (tmp_path / "notes.txt").write_text("hi\n")
    for argv in (["fit", "--config", bandit, "--ckpt_path", "notes.txt"],
                 ["fit", "--config", bandit, "--ckpt_path=notes.txt"],
                 ["evaluate", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--ckpt_path", "notes.txt"]):
        assert "--ckpt_path notes.txt: not a ramac checkpoint" in console_error(monkeypatch, capsys, *argv)
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")  # a Lightning-like file without ramac's section
    line = console_error(monkeypatch, capsys, "fit", "--config", bandit, "--ckpt_path", "plain.ckpt")
    assert "--ckpt_path plain.ckpt: not a ramac checkpoint (no 'ramac' section)" in line
    hopper = os.path.join(repo_root, "conf", "hopper.yaml")
    line = console_error(monkeypatch, capsys, "fit", "--config", hopper, "--data.path", "absent.hdf5")
    assert line == "ramac: error: data.path absent.hdf5: no such file"  # a path with the default source: that file
    line = console_error(monkeypatch, capsys, "fit", "--config", hopper, "--data.source", "zoo", "--data.path", "x")
    assert "data.path is only used with data.source=file (source is 'zoo'): drop --data.path" in line


def test_one_line_keeps_the_key_and_the_reason():
    message = ('Parser key "model":\n  Does not validate against any of the Union subtypes\n  Subtypes: [A, B]\n'
               "  Errors:\n    - Problem with given class_path 'ramac.learners.RADAC':\n"
               '        Parser key "risk_weight":\n          Expected a <class \'float\'>. Got value: abc\n'
               "    - Expected a <class 'NoneType'>\n  Given value type: <class 'X'>\n  Given value: NestedArg()")
    assert one_line(message) == "--model.init_args.risk_weight: Expected a <class 'float'>. Got value: abc"
    assert one_line("plain reason") == "plain reason"


def test_a_configured_logger_keeps_the_csv_metrics_the_report_reads(repo_root, tmp_path):
    """A logger given with --trainer.logger (here TensorBoard elsewhere; Weights & Biases or MLflow alike) gets a CSV
    logger beside it in the run folder, so `ramac report` and the sweep's progress still read metrics.csv."""
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "10", "--trainer.logger",
        "lightning.pytorch.loggers.TensorBoardLogger", "--trainer.logger.save_dir", str(tmp_path / "elsewhere"))
    rows = (tmp_path / "run" / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    assert "train/actor/bc_loss" in rows[0] and len(rows) >= 3
    assert list((tmp_path / "elsewhere").rglob("events.out.tfevents*"))


def test_mlflow_logger_keeps_the_csv_metrics_and_fills_its_store(repo_root, tmp_path, monkeypatch):
    """With MLflow's logger (a local file store), the run still writes the metrics.csv `ramac report` reads, and
    MLflow's store holds the same training metrics at the same steps."""
    pytest.importorskip("mlflow", reason="the `mlflow` extra is not installed")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses file stores unless told (its message)
    from mlflow.tracking import MlflowClient

    tracking_uri = f"file:{tmp_path / 'mlruns'}"
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "10", "--trainer.logger",
        "lightning.pytorch.loggers.MLFlowLogger", "--trainer.logger.tracking_uri", tracking_uri,
        "--trainer.logger.experiment_name", "ramac-test")
    with open(tmp_path / "run" / "lightning_logs" / "version_0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    csv_loss = {int(row["step"]): float(row["train/actor/bc_loss"]) for row in rows if row["train/actor/bc_loss"]}
    assert len(csv_loss) >= 2, rows  # logged every 5 of the 10 steps
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("ramac-test")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, "train/actor/bc_loss")
    assert {m.step: m.value for m in history} == pytest.approx(csv_loss)
    assert run.data.params["risk_weight"] == "0.5"  # the hyperparameters too


@pytest.mark.parametrize("path", ["last", "file"])
def test_resume_refuses_learner_options_other_than_the_checkpoints(repo_root, tmp_path, path):
    """LightningCLI puts a checkpoint's saved options over the config's; ramac refuses the difference in one line
    instead of dropping the config's value (``last`` and a file path alike), and resumes when they agree."""
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "10")
    ckpt = "last" if path == "last" else str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    with pytest.raises(ValueError, match=r"--ckpt_path .*: the config sets model\.init_args\.risk_weight=0\.25 but "
                                         r"the checkpoint was trained with 0\.5; a resume continues its run"):
        fit(repo_root, tmp_path / "run", "--trainer.max_steps", "20", "--ckpt_path", ckpt,
            "--model.init_args.risk_weight", "0.25")
    fit(repo_root, tmp_path / "run", "--trainer.max_steps", "20", "--ckpt_path", ckpt)
    assert load(tmp_path / "run" / "checkpoints" / "last.ckpt")["ramac"]["iteration"] == 20
