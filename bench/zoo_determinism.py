"""Which step of zoo-data generation depends on the CPU: each stage run under switches that make this machine
pick the code paths another CPU would (README "Data"; BENCHMARKS.md "Zoo data across CPUs").

    python bench/zoo_determinism.py              # every stage under every switch set (about 3 minutes, 1 core)
    python bench/zoo_determinism.py --rows 20000

Stages, each hashed (first 12 hex digits of SHA-256):

- ``mujoco``: Hopper-v5 stepped with a fixed action sequence (uniform draws, made exactly) for ``--steps``
  steps, resetting when an episode ends: the simulator and gymnasium alone;
- ``policy g1`` / ``policy g2``: the medium policy's sampled actions, generation 1 and 2, on fixed observations;
- ``data g1`` / ``data g2``: the data checksum of a ``--rows``-row hopper-medium-expert, generation 1 and 2.

Switch sets: MKL's kernel choice (``MKL_ENABLE_INSTRUCTIONS``) and its reproducibility mode (``MKL_CBWR``),
ATen's (``ATEN_CPU_CAPABILITY``), oneDNN's (``ONEDNN_MAX_CPU_ISA``), NumPy's SIMD dispatch
(``NPY_DISABLE_CPU_FEATURES``), glibc's choice of libm variants (``GLIBC_TUNABLES`` hwcaps: no FMA, AVX2 or
AVX-512, the libm of a CPU older than Haswell), and all of an AVX2 machine's at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

SWITCHES: dict[str, dict[str, str]] = {
    "plain": {},
    "MKL_ENABLE_INSTRUCTIONS=AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "MKL_ENABLE_INSTRUCTIONS=SSE4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "ONEDNN_MAX_CPU_ISA=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL"},
    "GLIBC hwcaps -FMA,-AVX2,-AVX512F": {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F"},
    "an AVX2 machine (all of MKL, ATen, oneDNN, NumPy)": {
        "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL"},
}


def _digest(*arrays: object) -> str:
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def child(steps: int, rows: int) -> dict[str, str]:
    import gymnasium as gym
    import numpy as np
    import torch

    from ramac.zoo.datasets import dataset_checksum
    from ramac.zoo.policy import ZooPolicy
    from ramac.zoo.registry import make_zoo_dataset, zoo_dir

    torch.set_num_threads(1)
    env = gym.make("Hopper-v5")
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, 3))
    observations = [env.reset(seed=0)[0]]
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        observations.append(env.reset()[0] if terminated or truncated else obs)
    obs = np.stack(observations)
    out = {"mujoco": _digest(obs)}
    for generation in (1, 2):
        policy = ZooPolicy.load(zoo_dir("Hopper-v5") / "medium.pt", 1.0, generation)
        out[f"policy g{generation}"] = _digest(policy(obs[:4096], np.random.default_rng(1)))
    for generation in (1, 2):
        data, _ = make_zoo_dataset("Hopper-v5", "medium-expert", rows, 0, generation=generation)
        out[f"data g{generation}"] = dataset_checksum(data)[:12]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20000, help="MuJoCo steps of the simulator stage")
    parser.add_argument("--rows", type=int, default=4000, help="rows of the hopper-medium-expert stages")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.steps, args.rows)))
        return
    from zoo_checksums import cpu_name

    with open("/proc/cpuinfo") as handle:
        flags = handle.read()
    print(f"# {cpu_name()}; AVX-512: {'avx512f' in flags}; FMA: {' fma ' in flags}; "
          f"{args.steps} MuJoCo steps, {args.rows}-row hopper-medium-expert")
    results = {}
    for name, switches in SWITCHES.items():
        start = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", **switches}
        done = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps),
                               "--rows", str(args.rows)], env=env, capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name:52s} " + "  ".join(f"{k} {v}" for k, v in results[name].items())
              + f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    plain = results["plain"]
    for stage in plain:
        differing = [name for name, result in results.items() if result[stage] != plain[stage]]
        print(f"# {stage}: {'the same under every switch' if not differing else 'changed by ' + ', '.join(differing)}")


if __name__ == "__main__":
    main()
