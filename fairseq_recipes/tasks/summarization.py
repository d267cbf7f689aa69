"""``--task recipes_summarization``: XSUM, document to one-sentence summary.

``--train-file`` / ``--valid-file`` / ``--test-file`` are any of the XSUM forms the reader
knows (``eval/readers/xsum.py``): the raw release directory with its split file
(``--xsum-split-file``; the subset picks the split), a directory of extracted ``.data``
files, or a ``{split}.source`` / ``{split}.target`` prefix. Documents longer than
``--max-source-tokens`` are cut (as BART does for XSUM); the paper validates by
perplexity, so generation is only for testing (``fairseq-generate --scoring
recipes_rouge``).
"""

from dataclasses import dataclass, field

import numpy as np
from fairseq.tasks import register_task

from ..eval.readers.xsum import read_xsum
from ..scoring.rouge import rouge
from .seq2seq_finetune import Seq2SeqFinetuneConfig, Seq2SeqFinetuneTask

#: the split of the raw release each subset reads
XSUM_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


@dataclass
class SummarizationConfig(Seq2SeqFinetuneConfig):
    xsum_split_file: str = field(
        default="",
        metadata={
            "help": "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json of the raw release "
            "(default: looked up beside the .summary files)"
        },
    )


@register_task("recipes_summarization", dataclass=SummarizationConfig)
class SummarizationTask(Seq2SeqFinetuneTask):
    metric_name = "rougeL"

    @classmethod
    def read(cls, cfg, path, lang=None, split="test"):
        return read_xsum(
            path, split=XSUM_SPLITS[split], split_file=cfg.xsum_split_file or None
        )

    def encode(self, example):
        return (
            self.tokenizer.encode(example.document).astype(np.int64),
            self.tokenizer.encode(example.summary).astype(np.int64),
        )

    def reference(self, example) -> str:
        return example.summary

    def scored_text(self, tokens, source_tokens) -> str:
        return self.tokenizer.decode(
            [int(i) for i in tokens if int(i) not in self.special_ids]
        )

    def metric(self, references, hypotheses) -> float:
        return rouge(references, hypotheses)["rougeL"]
