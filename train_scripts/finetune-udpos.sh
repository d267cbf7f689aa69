#!/usr/bin/env bash
# Table 2, UDPOS (XTREME version): fine-tune on English, test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=ud-treebanks-v2.5 train_scripts/finetune-udpos.sh
#
# EVAL_DATA is a Universal Dependencies release (the paper's: v2.5), read as XTREME builds
# UDPOS: every treebank of a language, */{lang}_*-ud-{split}*.conllu, merged per split in
# file-name order (a treebank without word forms is skipped with a notice); or a directory
# of XTREME's processed {train,dev,test}-{lang}.tsv files. Settings: train_scripts/lib/finetune.sh.
EVALUATION=udpos
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
