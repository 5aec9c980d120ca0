#!/usr/bin/env bash
# Every algorithm on the bandit over three seeds (issue 12), two runs at a time with one thread each.
# Resumable: a run whose bandit.json exists is skipped, an interrupted one resumes from its last.ckpt.
# Results (small JSON) are copied to results/bandit/<algo>-seed<S>.json.
#   nohup bash bench/bandit_study.sh > runs/bandit_study.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
mkdir -p results/bandit
ALGOS=${ALGOS:-"radac bc diffusion_ql fql rafmac cql"}
run() {
  local algo=$1 seed=$2 root="runs/study/bandit/$1/seed$2"
  mkdir -p "runs/study/bandit/$algo"
  [ -f "results/bandit/$algo-seed$seed.json" ] && return 0
  local resume=()
  [ -f "$root/checkpoints/last.ckpt" ] && resume=(--ckpt_path last)
  OMP_NUM_THREADS=1 .venv/bin/ramac fit --algo "$algo" --task bandit --seed_everything "$seed" \
    --trainer.default_root_dir "$root" --trainer.enable_progress_bar false "${resume[@]}" > "$root.log" 2>&1 \
    && cp "$root/bandit.json" "results/bandit/$algo-seed$seed.json" && echo "done $algo seed $seed $(date +%T)"
}
jobs_list=()
for algo in $ALGOS; do for seed in 0 1 2; do jobs_list+=("$algo $seed"); done; done
for ((i = 0; i < ${#jobs_list[@]}; i += 2)); do
  run ${jobs_list[i]} &
  [ $((i + 1)) -lt ${#jobs_list[@]} ] && run ${jobs_list[i + 1]} &
  wait
done
