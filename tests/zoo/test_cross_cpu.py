"""Zoo generation 2 makes the same dataset whatever kernels the CPU picks: a small hopper-medium-expert made
under switches that make this machine run the code paths of other CPUs (BENCHMARKS.md "Zoo data across CPUs")
must have one pinned data checksum; generation 1's changes under them (a warning says so where it does not, so the
run shows whether the switches reached the arithmetic on this CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

from numpy._core._multiarray_umath import __cpu_features__

# generation 2, hopper-medium-expert, 2000 rows, seed 0, 2 environments per shard (fewer than the 16 of `ramac data
# make`, for speed: the arithmetic is the same), the shipped Hopper-v5 policies (zoo_version f6d543a1)
CHECKSUM = "ed27ca59efddaa81ac34f65ddf6acd46e8a89a031074f29327a73d733b5e3c9e"

CHILD = """
from ramac.zoo.datasets import dataset_checksum
from ramac.zoo.registry import make_zoo_dataset
for generation in (1, 2):
    data, _ = make_zoo_dataset("Hopper-v5", "medium-expert", 2000, 0, num_envs=2, generation=generation)
    print(dataset_checksum(data))
"""

# NumPy can only be told to leave out SIMD extensions this CPU has.
NUMPY_AVX512 = " ".join(f for f in ("X86_V4", "AVX512_ICL", "AVX512_SPR") if __cpu_features__.get(f))

SWITCHES = {
    "plain": {},
    "MKL's compatible kernels": {"MKL_CBWR": "COMPATIBLE"},  # changes generation 1 on Intel and AMD CPUs
    "MKL without AVX-512": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},  # changes generation 1 on Intel AVX-512 CPUs
    "ATen's default kernels": {"ATEN_CPU_CAPABILITY": "default"},
    "an AVX2 machine": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                        "ONEDNN_MAX_CPU_ISA": "AVX2", **({"NPY_DISABLE_CPU_FEATURES": NUMPY_AVX512}
                                                          if NUMPY_AVX512 else {})},
}


def test_generation_two_is_one_dataset_under_every_cpu_switch():
    children = {}
    for name, switches in SWITCHES.items():
        env = {**os.environ, "OMP_NUM_THREADS": "1", **switches}
        children[name] = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
    results = {}
    for name, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, f"{name}: {err[-2000:]}"
        results[name] = out.split()
    second = {name: result[1] for name, result in results.items()}
    assert set(second.values()) == {CHECKSUM}, second
    first = {name: result[0] for name, result in results.items()}
    if len(set(first.values())) == 1:  # measured to change on AMD EPYC (AVX-512) and Intel Xeon: BENCHMARKS.md
        warnings.warn(f"no switch changed generation 1 on this CPU, so the switches exercised no kernel difference "
                      f"here (generation 2 still matched its pinned checksum): {first}", stacklevel=1)
