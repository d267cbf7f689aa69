#!/usr/bin/env bash
# Table 1, "2stage-bart-12e12d-unfrz" (recipe 2, unfrozen): encoder from roberta-12e, frozen for
# the first 200k updates, then trained with the decoder for 150k more (350k in all, one learning
# rate schedule through the switch).
#
#   DATA=data-bin INIT=checkpoints/roberta-12e/checkpoint_last.pt train_scripts/2stage-bart-12e12d-unfrz.sh
#   SMOKE=1 DATA=data-bin INIT=... train_scripts/2stage-bart-12e12d-unfrz.sh   # tiny width, CPU
#
# INIT defaults to the last checkpoint of roberta-12e beside SAVE_DIR; FREEZE_ENCODER_UPDATES
# overrides the switch. Settings (all overridable from the environment) are listed with their
# meaning in train_scripts/lib/common.sh; their values come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="2stage-bart-12e12d-unfrz"                    # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
warm_start_args
run_train "${ARGS[@]}" "$@"
