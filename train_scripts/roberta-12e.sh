#!/usr/bin/env bash
# Table 1, "roberta-12e": the XLM-R style MLM encoder: 12 PreLayerNorm layers of width 1024, trained
# from scratch with masked language modelling (15% of tokens; 80/10/10).
#
#   DATA=data-bin train_scripts/roberta-12e.sh [extra fairseq-train options]
#   SMOKE=1 DATA=data-bin train_scripts/roberta-12e.sh     # tiny width, a few updates, CPU
#
# Settings (all overridable from the environment) are listed with their meaning in
# train_scripts/lib/common.sh; their values come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="roberta-12e"                                 # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
run_train "${ARGS[@]}" "$@"
