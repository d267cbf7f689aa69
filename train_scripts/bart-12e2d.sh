#!/usr/bin/env bash
# Table 1, "bart-12e2d": the 12-layer encoder with a 2-layer decoder, span denoising in drop mode:
# most of the compute goes to the encoder.
#
#   DATA=data-bin train_scripts/bart-12e2d.sh [extra fairseq-train options]
#   SMOKE=1 DATA=data-bin train_scripts/bart-12e2d.sh     # tiny width, a few updates, CPU
#
# Settings (all overridable from the environment) are listed with their meaning in
# train_scripts/lib/common.sh; their values come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="bart-12e2d"                                 # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
run_train "${ARGS[@]}" "$@"
