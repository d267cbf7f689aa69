#!/usr/bin/env bash
# Table 2, UDPOS: fine-tune on English (UD English-EWT), test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=ud train_scripts/finetune-udpos.sh
#
# EVAL_DATA holds Universal Dependencies treebanks as released: UD_*/{lang}_*-ud-{split}.conllu
# (the first treebank of a language found is used). Settings: train_scripts/lib/finetune.sh.
TASK=udpos
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
