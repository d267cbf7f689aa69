#!/usr/bin/env bash
# Table 2, XNLI: fine-tune on English MultiNLI, test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=xnli train_scripts/finetune-xnli.sh
#
# EVAL_DATA holds XNLI-1.0/xnli.{dev,test}.tsv and XNLI-MT-1.0/multinli/multinli.train.en.tsv as
# released. Settings: train_scripts/lib/finetune.sh.
TASK=xnli
DATASET_LANGS="ar bg de el en es fr hi ru sw th tr ur vi zh"  # languages the released dataset covers
train_file() { echo "$EVAL_DATA/XNLI-MT-1.0/multinli/multinli.train.en.tsv"; }
valid_file() { echo "$EVAL_DATA/XNLI-1.0/xnli.dev.tsv"; }
test_file() { echo "$EVAL_DATA/XNLI-1.0/xnli.test.tsv"; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
