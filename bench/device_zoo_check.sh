#!/usr/bin/env bash
# Zoo generation 2 on the lent GPU machine (an Intel Xeon: the CPU kind that README "Data" could not check here,
# since MKL's Intel kernels cannot be emulated on AMD). About 4 minutes on its 16 cores:
#   1. bench/zoo_determinism.py: every stage under every switch set (MuJoCo alone, both generations' policies and
#      a 4000-row hopper-medium-expert);
#   2. hopper-medium-expert at its default size, generation 2, 8 workers, judged against checksums.json.
# The machine has no MuJoCo or gymnasium and reaches no registry, so their wheels travel in .device/wheels
# (ignored through .git/info/exclude; the machine's Python is 3.12):
#   pip download --no-deps -d .device/wheels gymnasium==1.4.0 mujoco==4.0.0 farama-notifications glfw pyopengl
#   pip download --no-deps --python-version 3.12 --only-binary=:all: --platform manylinux_2_28_x86_64 \
#       -d .device/wheels mujoco-core==4.0.0 mujoco-studio==4.0.0 websockets
# Run with the device tool: command "bash bench/device_zoo_check.sh", carry [".device"], timeout_s 420.
set -euo pipefail
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-index --target /tmp/zoo_packages .device/wheels/*.whl
export PYTHONPATH="$PWD/src:/tmp/zoo_packages" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 RAMAC_DATA_DIR=/tmp/ramac_data
python3 -c "import numpy, torch, mujoco, gymnasium, platform; print('numpy', numpy.__version__, 'torch',
torch.__version__, 'mujoco', mujoco.__version__, 'gymnasium', gymnasium.__version__, 'glibc', platform.libc_ver())" \
  | tee "$OUT/zoo_check.txt"
python3 bench/zoo_determinism.py --rows 4000 | tee -a "$OUT/zoo_check.txt"
python3 - <<'EOF' | tee -a "$OUT/zoo_check.txt"
import time
from ramac.zoo.checksums import verify_file
from ramac.zoo.registry import make_dataset

start = time.perf_counter()
path = make_dataset("hopper-medium-expert", None, 0, workers=8)
print(f"made in {time.perf_counter() - start:.0f} s with 8 workers;", verify_file(path).message)
EOF
