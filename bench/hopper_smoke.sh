#!/usr/bin/env bash
# Every learner on hopper-medium-expert (zoo data), 2000 iterations with the evaluation callback at the end
# (10 episodes, horizon 500), one after another at 2 threads (issue 12). Resumable like bandit_study.sh;
# eval.json copied to results/hopper-2000/<algo>.json.
#   nohup bash bench/hopper_smoke.sh > runs/hopper_smoke.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
mkdir -p results/hopper-2000 runs/study/hopper-2000
for algo in ${ALGOS:-bc diffusion_ql fql rafmac radac cql}; do
  root="runs/study/hopper-2000/$algo"
  [ -f "results/hopper-2000/$algo.json" ] && continue
  resume=()
  [ -f "$root/checkpoints/last.ckpt" ] && resume=(--ckpt_path last)
  start=$(date +%s)
  OMP_NUM_THREADS=2 .venv/bin/ramac fit --algo "$algo" --task hopper-medium-expert --trainer.max_steps 2000 \
    --trainer.default_root_dir "$root" --trainer.enable_progress_bar false "${resume[@]}" > "$root.log" 2>&1 \
    && cp "$root/eval.json" "results/hopper-2000/$algo.json" \
    && echo "done $algo in $(( $(date +%s) - start )) s $(date +%T)"
done
