#!/usr/bin/env bash
# Table 3, mTOP semantic parsing: fine-tune a seq2seq model on English, test every language
# (zero-shot), SCIEM per language.
#
#   CHECKPOINT=checkpoints/bart-12e12d/checkpoint_last.pt EVAL_DATA=mtop train_scripts/finetune-mtop.sh
#
# EVAL_DATA holds mTOP as released: {lang}/{train,eval,test}.txt (eight tab-separated columns).
# TARGET_FORMAT=sentinels (default: the target points at input words through word sentinels)
# or words (the target spells them). Settings: train_scripts/lib/finetune.sh.
EVALUATION=mtop
TARGET_FORMAT="${TARGET_FORMAT:-sentinels}"
EVALUATION_ARGS=(--target-format "$TARGET_FORMAT")
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
