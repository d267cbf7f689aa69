#!/usr/bin/env bash
# The main job on the embedded default: build the toy multilingual corpus, preprocess it
# (SentencePiece, dictionary, sharded binaries), then pre-train a tiny MLM encoder and a
# tiny span-denoising seq2seq model through the real train scripts in smoke mode, and run
# both recipes from them: the three two-stage models from the MLM encoder (recipe 2) and
# the seq2seq encoder continued with MLM (recipe 1); last, print Table 1 (the predicted
# cost of every recipe) and what each run's ledger counted.
# Rerunning reuses what is finished (finished stages are skipped, training resumes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${WORK:-$ROOT/work}"          # everything the main job writes
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}" # the project's environment
VOCAB_SIZE="${VOCAB_SIZE:-2000}"   # SentencePiece vocabulary of the toy corpus
NUM_SHARDS="${NUM_SHARDS:-2}"      # training shards, walked one per epoch
LOG="$WORK/main.log"               # everything below is also teed here
export PYTHON

mkdir -p "$WORK"
exec > >(tee -a "$LOG") 2>&1
stage() { printf '\n==== [%s] %s\n' "$(date +%T)" "$*"; }

stage "1/6 toy corpus -> $WORK/corpus"
if [[ ! -d "$WORK/corpus" ]]; then
  "$PYTHON" -m fairseq_recipes.data.toy_corpus --output "$WORK/corpus.tmp"
  mv "$WORK/corpus.tmp" "$WORK/corpus"
else
  echo "exists, reused"
fi

stage "2/6 preprocess -> $WORK/data-bin"
if [[ ! -f "$WORK/data-bin/manifest.json" ]]; then
  "$PYTHON" -m fairseq_recipes.data.binarize --input "$WORK/corpus" --output "$WORK/data-bin" \
    --vocab-size "$VOCAB_SIZE" --num-shards "$NUM_SHARDS" --valid-docs 20
else
  echo "exists, reused"
fi

# from scratch first, then each recipe from the checkpoint its recipe names
RECIPES=(roberta-12e bart-12e12d 2stage-bart-12e12d 2stage-bart-12e12d-attn-f
         2stage-bart-12e12d-unfrz bart-12e12d+mlm)
for i in "${!RECIPES[@]}"; do
  recipe="${RECIPES[$i]}"
  stage "$(( i < 2 ? 3 : i < 5 ? 4 : 5 ))/6 pre-train $recipe (smoke scale)"
  SMOKE=1 DATA="$WORK/data-bin" SAVE_DIR="$WORK/checkpoints/$recipe" \
    "$ROOT/train_scripts/$recipe.sh" \
    | { grep --line-buffered -E "\| (train|valid_[a-z]+) \||parameters:|warm start|unfrozen|^wrote|done training|error" || true; }
done

stage "6/6 compute: Table 1 at the paper's scale, then what the smoke runs consumed"
"$PYTHON" -m fairseq_recipes.cost.cli --format table --output "$WORK/table1.txt"
cat "$WORK/table1.txt"
"$PYTHON" -m fairseq_recipes.cost.cli --checkpoints \
  $(for recipe in "${RECIPES[@]}"; do echo "$WORK/checkpoints/$recipe/checkpoint_last.pt"; done)

stage "done: checkpoints and logs in $WORK/checkpoints, Table 1 in $WORK/table1.txt, log in $LOG"
