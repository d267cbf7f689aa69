#!/usr/bin/env bash
# Table 2, XNLI: fine-tune on English MultiNLI, test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=xnli train_scripts/finetune-xnli.sh
#
# EVAL_DATA holds XNLI-1.0/xnli.{dev,test}.tsv and XNLI-MT-1.0/multinli/multinli.train.en.tsv as
# released. Settings: train_scripts/lib/finetune.sh.
EVALUATION=xnli
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
