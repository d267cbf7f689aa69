#!/usr/bin/env bash
# Table 2, UDPOS: fine-tune on English (UD English-EWT), test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=ud train_scripts/finetune-udpos.sh
#
# EVAL_DATA holds Universal Dependencies treebanks as released: UD_*/{lang}_*-ud-{split}.conllu
# (the first treebank of a language found is used). Settings: train_scripts/lib/finetune.sh.
TASK=udpos
DATASET_LANGS="*"  # languages the released dataset covers
first() { local f; for f in "$@"; do [[ -f "$f" ]] && { echo "$f"; return; }; done; echo "$1"; }
train_file() { first "$EVAL_DATA"/UD_English-EWT/en_ewt-ud-train.conllu "$EVAL_DATA"/UD_*/en_*-ud-train.conllu; }
valid_file() { first "$EVAL_DATA"/UD_English-EWT/en_ewt-ud-dev.conllu "$EVAL_DATA"/UD_*/en_*-ud-dev.conllu; }
test_file() { first "$EVAL_DATA"/UD_*/"$1"_*-ud-test.conllu; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
