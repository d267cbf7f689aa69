# Shared by the fine-tuning scripts (train_scripts/finetune-*.sh), sourced after a script
# sets EVALUATION (a row of fairseq_recipes/evaluations.py) and optionally EVALUATION_ARGS
# (more recipes-finetune options). Where each dataset keeps its files as released is
# recipes-finetune's --eval-data (fairseq_recipes/eval/layouts.py). The paper's fine-tuning
# settings (learning rate and schedule, batch size, epochs, max updates, AdamW betas,
# weight decay, dropout, frozen embeddings,
# beam 3) are recipes-finetune's defaults, from fairseq_recipes/paper.py (FINETUNE,
# SEQ2SEQ_FINETUNE_*); they are not typed here. Every variable can be set from the
# environment.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/preamble.sh" # ROOT, PYTHON, light, fail

# checkpoint to fine-tune: any project checkpoint's encoder (xnli, matis, wikiann, udpos) or a
# seq2seq checkpoint (mtop, xsum)
CHECKPOINT="${CHECKPOINT:-}"
[[ -n "$CHECKPOINT" ]] || fail "set CHECKPOINT to the checkpoint to fine-tune"
DATA="${DATA:-data-bin}"                # pre-training data directory: dict.txt and spm.model
EVAL_DATA="${EVAL_DATA:-eval-data/$EVALUATION}" # the evaluation's files in their released layout (see the script)
LANGS="${LANGS:-}"                      # test languages (default: the paper's that the dataset has); English trains
SEEDS="${SEEDS:-3}"                     # fine-tuning runs, seeds 1..SEEDS
OUTPUT="${OUTPUT:-results/$(basename "$(dirname "$CHECKPOINT")")/$EVALUATION}" # runs, predictions, metrics
MAP_UNKNOWN_LABELS_TO="${MAP_UNKNOWN_LABELS_TO:-}" # e.g. O: map labels training lacks instead of stopping
SMOKE="${SMOKE:-0}"                     # 1: a few updates on CPU (checks the pipeline, not the paper)

ARGS=(--checkpoint "$CHECKPOINT" --evaluation "$EVALUATION" --data "$DATA" --eval-data "$EVAL_DATA"
      --output "$OUTPUT" --seeds "$SEEDS")
if [[ -n "$LANGS" ]]; then ARGS+=(--langs $LANGS); fi
if [[ -n "$MAP_UNKNOWN_LABELS_TO" ]]; then ARGS+=(--map-unknown-labels-to "$MAP_UNKNOWN_LABELS_TO"); fi
ARGS+=(${EVALUATION_ARGS[@]+"${EVALUATION_ARGS[@]}"})
if [[ "$SMOKE" == 1 ]]; then
  # not paper numbers: the smallest run that exercises everything in seconds
  ARGS+=(--cpu --max-updates 8 --batch-size 16 --peak-lr 2e-3 --warmup-updates 2 --log-interval 1)
  case "$EVALUATION" in
    mtop|xsum) ARGS+=(--max-source-tokens 128 --max-target-tokens 64) ;;
    *) ARGS+=(--max-piece-tokens 128) ;;
  esac
elif ! command -v nvidia-smi >/dev/null 2>&1; then
  ARGS+=(--cpu)
fi

mkdir -p "$OUTPUT"
echo "[finetune $EVALUATION] $(date -u +%FT%TZ) checkpoint=$CHECKPOINT langs=${LANGS:-default} seeds=$SEEDS" | tee -a "$OUTPUT/finetune.log"
"$PYTHON" -m fairseq_recipes.eval.finetune "${ARGS[@]}" "$@" 2>&1 | tee -a "$OUTPUT/finetune.log"
