#!/usr/bin/env bash
# The main job (`make main`): the whole paper at toy scale on the embedded default
# (configs/toy.toml), or at any scale with CONFIG=configs/paper.toml. Everything is done by
# recipes-main (fairseq_recipes/pipeline/main.py): data, the ten models of Table 1, their
# fine-tuning evaluations, and WORK/results/report.md; its output is also appended to
# WORK/main.log. A second run reuses what is finished; a killed run resumes. Extra
# arguments go to recipes-main (--step, --model, --evaluation, --seeds, --jobs, --dry-run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}" # the project's environment
CONFIG="${CONFIG:-}"                       # a TOML configuration; empty: configs/toy.toml
WORK="${WORK:-}"                           # overrides the configuration's work_dir

args=()
if [[ -n "$CONFIG" ]]; then args+=(--config "$CONFIG"); fi
if [[ -n "$WORK" ]]; then args+=(--work-dir "$WORK"); fi
exec "$PYTHON" -m fairseq_recipes.pipeline.main ${args[@]+"${args[@]}"} "$@"
