#!/usr/bin/env bash
# Recipe 3, "bart-12e12d-joint" (not in the paper; its future work): bart-12e12d whose encoder
# also carries an MLM head tied to the embeddings, trained in one run on both objectives over the
# same data: span denoising (drop mode) through the whole model, MLM through the encoder alone.
# By default 600k updates, every sixth one MLM (500k denoising + 100k MLM: 11.0 TU for both
# models); why: fairseq_recipes/recipe3.py. Every checkpoint save also writes the run's two models
# beside it: SAVE_DIR/encoder_last.pt (roberta_12e, with its MLM head) and SAVE_DIR/seq2seq_last.pt
# (bart_12e12d), for the evaluations, recipes-export-hf and fairseq-generate as they are.
#
#   DATA=data-bin train_scripts/bart-12e12d-joint.sh [extra fairseq-train options]
#   SMOKE=1 DATA=data-bin train_scripts/bart-12e12d-joint.sh     # tiny width, a few updates, CPU
#   OBJECTIVE_SCHEDULE=sum MLM_WEIGHT=0.5 DATA=data-bin train_scripts/bart-12e12d-joint.sh
#
# Settings (all overridable from the environment) are listed with their meaning in
# train_scripts/lib/common.sh; their values come from fairseq_recipes/recipes.py.
set -euo pipefail

RECIPE="bart-12e12d-joint"                           # row of Table 1 (fairseq_recipes/recipes.py)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pretrain_args
joint_args
run_train "${ARGS[@]}" "$@"
