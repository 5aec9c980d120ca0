"""A ``last.ckpt`` written by the code before the issue-11 re-layout (commit ``09f4c3e``, bandit with
tiny networks, 6 iterations) resumes with today's code, and 4 more iterations end exactly where the old code's
uninterrupted 10-iteration run ended (``pre_layout_bandit_10.json``: a SHA-256 per tensor)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import torch

from ramac.cli.fit import main

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
TINY = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
        "--model.init_args.diffusion_steps", "3", "--model.init_args.n_quantiles", "4",
        "--model.init_args.actor_hidden_dim", "16", "--model.init_args.critic_hidden_dim", "16",
        "--model.init_args.critic_embedding_dim", "8", "--data.init_args.dataset_size", "256",
        "--data.init_args.batch_size", "32"]


def test_a_checkpoint_from_before_the_relayout_resumes_exactly(repo_root, tmp_path):
    torch.set_num_threads(1)  # the record was made on one thread
    run = tmp_path / "run"
    old = tmp_path / "pre_layout_bandit_6.ckpt"
    shutil.copy(os.path.join(FIXTURES, old.name), old)  # read-only use: the fixture is never written
    main(["fit", "--config", os.path.join(repo_root, "conf", "bandit.yaml"), *TINY, "--trainer.max_steps", "10",
          "--trainer.default_root_dir", str(run), "--ckpt_path", str(old)])
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    with open(os.path.join(FIXTURES, "pre_layout_bandit_10.json")) as handle:
        record = json.load(handle)
    assert checkpoint["ramac"]["iteration"] == record["iteration"] == 10
    found = {key: hashlib.sha256(value.contiguous().numpy().tobytes()).hexdigest()
             for key, value in checkpoint["state_dict"].items()}
    assert found == record["state_dict_sha256"]
