#!/usr/bin/env bash
# Table 2, WikiANN (PAN-X) NER: fine-tune on English, test every language (zero-shot).
#
#   CHECKPOINT=checkpoints/roberta-12e/checkpoint_last.pt EVAL_DATA=panx train_scripts/finetune-wikiann.sh
#
# EVAL_DATA holds PAN-X as released per language: {lang}/train, {lang}/dev, {lang}/test
# (lines "lang:token<TAB>TAG"). Settings: train_scripts/lib/finetune.sh.
EVALUATION=wikiann
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
