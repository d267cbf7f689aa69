#!/usr/bin/env bash
# Table 2, mATIS++ (MultiATIS++) intent and slots: fine-tune on English, test every language.
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=multiatis train_scripts/finetune-matis.sh
#
# EVAL_DATA holds {train,dev,test}_{LANG}.tsv as released. Settings: train_scripts/lib/finetune.sh.
EVALUATION=matis
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
