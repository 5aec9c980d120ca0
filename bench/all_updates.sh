#!/usr/bin/env bash
# Update-step time of every learner (issue 12): hopper and halfcheetah dimensions, 1 and 2 threads, fp32 and bf16.
# Run on an idle machine: bash bench/all_updates.sh | tee runs/all_updates.txt
set -eu
cd "$(dirname "$0")"
for algo in ${ALGOS:-radac bc diffusion_ql fql rafmac}; do
  for task in hopper halfcheetah; do
    for threads in 1 2; do
      for precision in 32-true bf16-mixed; do
        OMP_NUM_THREADS=$threads ../.venv/bin/python update_step.py --algo "$algo" --task "$task" \
          --threads "$threads" --precision "$precision" --iterations 40 --repeats 2
      done
    done
  done
done
