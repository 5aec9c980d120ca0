"""Benchmark scripts as smoke tests: the GPU members benchmark on the CPU (issue 27), the released loop (issue 28)."""

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
