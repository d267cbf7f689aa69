#!/usr/bin/env bash
# Table 3, XSUM summarization (English): fine-tune a seq2seq model, ROUGE-1/2/L on the test set.
#
#   CHECKPOINT=checkpoints/bart-12e12d/checkpoint_last.pt EVAL_DATA=xsum train_scripts/finetune-xsum.sh
#
# EVAL_DATA is one of (eval/readers/xsum.py reads each; eval/layouts.py tells them apart):
# - the raw release: bbc-summary-data/{id}.summary and XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json;
# - {train,val,test}.source / .target, one document / summary per line;
# - a directory of extracted {id}.data files (every file serves every split: a smoke check).
# Settings: train_scripts/lib/finetune.sh.
EVALUATION=xsum
source "$(dirname "${BASH_SOURCE[0]}")/lib/finetune.sh"
