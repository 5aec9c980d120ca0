"""Benchmark scripts as smoke tests: the GPU members benchmark on the CPU (issue 27), the released loop and the
risky-step count and the critic's risk gap of the committed runs (issues 28 and 30)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def test_gpu_members_benchmark_runs_on_the_cpu_for_every_learner(repo_root):
    cmd = [sys.executable, os.path.join(repo_root, "bench", "gpu_members.py"), "--accelerator", "cpu",
           "--members", "1", "2", "--iterations", "2", "--warmup", "1", "--tasks", "hopper"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [[cell.strip() for cell in row] for row in rows[1:]]
    assert len(rows) == 10 * 2 and len({row[0] for row in rows}) == 10  # ten learners × S ∈ {1, 2}
    for _, task, members, per_iteration, per_member, captured in rows:
        assert task == "hopper" and float(per_iteration) > 0 and captured == "not built"
        assert abs(float(per_member) * int(members) - float(per_iteration)) < 0.02 * float(per_iteration) + 0.01


def test_every_released_pairing_run_ends_with_more_risky_steps_than_at_its_switch(repo_root):
    """docs/results/collapse.md: in all eleven released-pairing runs (ramac's on both data generations, the released
    code's) the risky-step share at 30k is above the switch's (10k); the committed eval.json files say so."""
    ramac = os.path.join(repo_root, "results", "sweeps", "{}", "hopper-medium-expert", "radac",
                         "quantile_pairing=released", "seed{}")
    folders = [ramac.format("hopper-released-gen2", s) for s in range(3)]
    folders += [ramac.format("hopper-study-radac", s) for s in range(5)]
    folders += [os.path.join(repo_root, "results", "released", "hopper-medium-expert", f"seed{s}") for s in range(3)]
    if not all(os.path.isfile(os.path.join(f, "eval.json")) for f in folders):
        pytest.skip("the released-pairing runs are not all committed")
    cmd = [sys.executable, os.path.join(repo_root, "bench", "risky_steps.py"), "--switch", "10000", *folders]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].endswith(": 11 of 11 runs"), done.stdout[-2000:]
    switches = [line for line in done.stdout.splitlines() if "switch → last" in line]
    shares = [[float(x) for x in line.split("risky steps ")[1].split(" %")[0].split(" → ")] for line in switches]
    assert min(b for b, _ in shares) >= 5.0 and max(b for b, _ in shares) < 23.5  # 5–23 % at 10k
    assert min(a for _, a in shares) >= 20.0 and max(a for _, a in shares) < 39.5  # 20–39 % at 30k


def test_halfcheetah_radacs_excursion_off_the_data_is_where_the_critic_rates_the_policy_above_the_data(repo_root):
    """docs/results/halfcheetah.md: in RADAC's two standard-pairing runs at the released schedule the critic's CVaR₀.₁
    at the policy's actions exceeds the data's most at 15k, where the OOD rate peaks, and the gap is gone by 25k; over
    their 12 evaluations the relative gap and the OOD rate rank alike (Spearman ρ = +0.93)."""
    folder = os.path.join(repo_root, "results", "sweeps", "halfcheetah-study", "halfcheetah-medium-expert", "radac",
                          "quantile_pairing=standard", "seed{}")
    folders = [folder.format(s) for s in range(2)]
    if not all(os.path.isfile(os.path.join(f, "eval.json")) for f in folders):
        pytest.skip("the HalfCheetah RADAC runs are not committed")
    cmd = [sys.executable, os.path.join(repo_root, "bench", "risk_gap.py"), *folders]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("Spearman ρ(relative gap, OOD rate) over 12 evaluations of 2 runs: +0.93"), lines[-1]
    for run in range(2):
        rows = [line.split() for line in lines[1 + 7 * run: 7 + 7 * run]]
        gaps = {int(row[0]): float(row[10]) for row in rows}
        assert max(gaps, key=gaps.get) == 15000 and gaps[15000] > 0.03, gaps
        assert gaps[25000] <= 0.001 and gaps[30000] <= 0.001, gaps  # printed to 3 decimals


RELEASED = os.environ.get("RAMAC_RELEASED_REPO", "")


@pytest.mark.skipif(not os.path.isfile(os.path.join(RELEASED, "agents", "radac.py")),
                    reason="set RAMAC_RELEASED_REPO to a KaiFukazawa/RAMAC checkout (and make hopper-medium-expert)")
def test_released_loop_resumes_where_an_uninterrupted_run_would_be(repo_root, tmp_path):
    """Issue 28 item 1: the released loop stopped after 10 iterations and rerun to 20 gives the evaluation an
    uninterrupted 20-iteration run gives (weights, optimisers, step and RNG restored)."""
    script = os.path.join(repo_root, "bench", "released_end_to_end.py")

    def run(out, iterations):
        cmd = [sys.executable, script, "train", "--official-repo", RELEASED, "--iterations", str(iterations),
               "--eval-every", "10", "--episodes", "2", "--risk-from", "5", "--out", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=repo_root)
        assert done.returncode == 0, done.stderr[-3000:]
        with open(out / "eval.json") as handle:
            return json.load(handle)["history"]

    run(tmp_path / "resumed", 10)
    resumed = run(tmp_path / "resumed", 20)
    straight = run(tmp_path / "straight", 20)
    assert [h["iteration"] for h in resumed] == [10.0, 20.0]
    assert resumed == straight


@pytest.mark.skipif(not os.path.isfile(os.path.join(RELEASED, "agents", "radac.py")),
                    reason="set RAMAC_RELEASED_REPO to a KaiFukazawa/RAMAC checkout (and make hopper-medium-expert)")
def test_released_code_in_lockstep_equals_ramacs_update(repo_root, tmp_path):
    """Issue 28 item 1: from one full checkpoint, on the same batches and random numbers, ramac's RADAC (released
    pairing) and the released agents/radac.py stay equal to float32 rounding, before and after the risk term starts
    (iteration 6 here), and the released code consumes exactly the draws ramac made (the script checks it)."""
    run = tmp_path / "run"
    fit = ["fit", "--conf_dir", os.path.join(repo_root, "conf"), "--algo", "radac", "--task", "hopper-medium-expert",
           "--trainer.max_steps", "4", "--trainer.callbacks", "[]", "--trainer.logger", "false",
           "--trainer.default_root_dir", str(run), "--model.init_args.quantile_pairing", "released",
           "--model.init_args.risk_warmup_iterations", "6", "--model.init_args.ema_start_iteration", "2",
           "--model.init_args.ema_every", "2", "--model.init_args.critic_lr", "3e-4"]
    from ramac.cli.fit import main

    main(fit)
    out = tmp_path / "lockstep.json"
    cmd = [sys.executable, os.path.join(repo_root, "bench", "released_lockstep.py"), "--official-repo", RELEASED,
           "--config", str(run / "config.yaml"), "--checkpoint", str(run / "checkpoints" / "last.ckpt"),
           "--iterations", "8", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=repo_root)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out) as handle:
        records = json.load(handle)["records"]
    assert [r["iteration"] for r in records] == list(range(4, 12))
    assert [r["ramac"]["risk_weight"] for r in records] == [0.0] * 3 + [pytest.approx(0.05)] * 5
    for r in records:
        for key in ("bc_loss", "actor_loss", "critic_loss"):
            assert r["ramac"][key] == pytest.approx(r["released"][key], rel=1e-5, abs=1e-6), (r["iteration"], key)
        if r["ramac"]["cvar_val"] is not None:
            assert r["ramac"]["cvar_val"] == pytest.approx(r["released"]["cvar_val"], rel=1e-5)
        assert max(r["gap_ramac_released"].values()) < 1e-5, r
