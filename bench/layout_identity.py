"""Bit-identity of training across the issue-11 re-layout: 300 iterations of ``conf/bandit.yaml`` and of
``conf/hopper.yaml`` (zoo dataset) on one thread, through the ``ramac`` command, hashed tensor by tensor.

    OMP_NUM_THREADS=1 python bench/layout_identity.py --write   # record (run on the code before the move)
    OMP_NUM_THREADS=1 python bench/layout_identity.py           # compare with the record; exit 1 on any change

The record, ``bench/layout_identity.json``, holds a SHA-256 per tensor of the final ``last.ckpt``'s model
state (parameters, EMA actor, target critics) and of the bandit's BC reference, so it is small and exact.
``--keep DIR`` leaves the runs (and their ``last.ckpt``) in DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import torch

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layout_identity.json")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = {"bandit": "conf/bandit.yaml", "hopper": "conf/hopper.yaml"}


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def run(name: str, config: str, root: str) -> dict[str, str]:
    command = [sys.executable, "-m", "ramac", "fit", "--config", os.path.join(REPO, config),
               "--trainer.max_steps", "300",
               "--trainer.default_root_dir", os.path.join(root, name), "--trainer.enable_progress_bar", "false",
               "--trainer.logger", "false"]
    if name == "hopper":  # no rollouts: they never touch the parameters
        command += ["--trainer.callbacks", "[]"]
    subprocess.run(command, check=True, cwd=root, env={**os.environ, "OMP_NUM_THREADS": "1"})
    checkpoint = torch.load(os.path.join(root, name, "checkpoints", "last.ckpt"), map_location="cpu",
                            weights_only=False)
    hashes = {f"state_dict/{key}": digest(value) for key, value in checkpoint["state_dict"].items()}
    for key, state in checkpoint.get("callbacks", {}).items():
        if key.startswith("BanditReport"):
            hashes.update({f"bc_reference/{k}": digest(v) for k, v in state["reference"].items()})
    return hashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="record instead of compare")
    parser.add_argument("--keep", help="directory for the runs (default: a temporary one)")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="layout_identity_")
    os.makedirs(root, exist_ok=True)
    found = {name: run(name, config, root) for name, config in RUNS.items()}
    if args.write:
        with open(RECORD, "w") as handle:
            json.dump(found, handle, indent=1, sort_keys=True)
        print(f"recorded {sum(map(len, found.values()))} tensors in {RECORD}")
        return
    with open(RECORD) as handle:
        recorded = json.load(handle)
    status = 0
    for name in RUNS:
        # keys are compared by position: the move may rename submodules, never reorder or change values
        old, new = recorded[name], found[name]
        same = sorted(old.values()) == sorted(new.values()) and len(old) == len(new)
        print(f"{name}: {len(new)} tensors, {'bit-identical' if same else 'DIFFERENT'} to the record")
        if not same:
            status = 1
            for key in sorted(set(old) ^ set(new)):
                print(f"  only in {'record' if key in old else 'this run'}: {key}")
            for key in sorted(set(old) & set(new)):
                if old[key] != new[key]:
                    print(f"  changed: {key}")
    sys.exit(status)


if __name__ == "__main__":
    main()
