#!/usr/bin/env bash
# Table 1, "2stage-bart-12e12d-attn-f" (recipe 2 with attention fusion): as 2stage-bart-12e12d
# (encoder from roberta-12e, frozen for all 500k updates), but every decoder layer attends to a
# learned per-token mixture of all 12 encoder layers instead of the last one only.
#
#   DATA=data-bin INIT=checkpoints/roberta-12e/checkpoint_last.pt train_scripts/2stage-bart-12e12d-attn-f.sh
#   SMOKE=1 DATA=data-bin INIT=... train_scripts/2stage-bart-12e12d-attn-f.sh   # tiny width, CPU
#
# INIT defaults to the last checkpoint of roberta-12e beside SAVE_DIR. Settings (all overridable
# from the environment) are listed with their meaning in train_scripts/lib/common.sh; their values
# come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="2stage-bart-12e12d-attn-f"                   # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
warm_start_args
run_train "${ARGS[@]}" "$@"
