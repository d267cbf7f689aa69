#!/usr/bin/env bash
# Table 1, "2stage-bart-12e12d" (recipe 2): a 12e12d seq2seq model warm-started from the MLM
# encoder of roberta-12e; the encoder and the shared embeddings stay frozen for all 500k updates
# while the decoder and its untied output projection learn span denoising (drop mode).
#
#   DATA=data-bin INIT=checkpoints/roberta-12e/checkpoint_last.pt train_scripts/2stage-bart-12e12d.sh
#   SMOKE=1 DATA=data-bin INIT=... train_scripts/2stage-bart-12e12d.sh   # tiny width, CPU
#
# INIT defaults to the last checkpoint of roberta-12e beside SAVE_DIR. Settings (all overridable
# from the environment) are listed with their meaning in train_scripts/lib/common.sh; their values
# come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="2stage-bart-12e12d"                          # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
warm_start_args
run_train "${ARGS[@]}" "$@"
