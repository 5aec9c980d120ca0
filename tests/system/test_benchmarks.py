"""The GPU members benchmark runs on the CPU as its smoke test (issue 27: under a minute, every learner)."""

from __future__ import annotations

import os
import subprocess
import sys


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
