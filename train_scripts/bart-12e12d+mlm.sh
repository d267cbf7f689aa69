#!/usr/bin/env bash
# Table 1, "bart-12e12d+mlm" (recipe 1): the encoder of bart-12e12d, continued with 100k updates of
# MLM (peak learning rate 1e-4, 1k warmup updates, linear decay to 5e-6).
#   stage 1: recipes-extract-encoder turns INIT (a bart-12e12d checkpoint) into a roberta_12e
#            checkpoint, SAVE_DIR/encoder_init.pt (encoder copied exactly, MLM head projection
#            initialized from the embeddings and untied, the rest of the head fresh);
#   stage 2: fairseq-train trains it as a fresh run (--finetune-from-model).
#
#   DATA=data-bin INIT=checkpoints/bart-12e12d/checkpoint_last.pt train_scripts/bart-12e12d+mlm.sh
#   SMOKE=1 DATA=data-bin INIT=... train_scripts/bart-12e12d+mlm.sh   # tiny width, CPU
#
# INIT defaults to the last checkpoint of bart-12e12d beside SAVE_DIR. Settings (all overridable
# from the environment) are listed with their meaning in train_scripts/lib/common.sh; their values
# come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="bart-12e12d+mlm"                             # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
extracted_encoder_args
run_train "${ARGS[@]}" "$@"
