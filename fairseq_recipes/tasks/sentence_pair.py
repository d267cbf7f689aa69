"""``--task recipes_sentence_pair``: XNLI (premise, hypothesis) -> entailment / neutral /
contradiction, the head on ``<s>`` (an MLP with one hidden layer, paper.PAIR_HEAD).

The training file is XNLI-MT's ``multinli.train.en.tsv`` or, like the validation file,
an XNLI-1.0 ``xnli.{dev,test}.tsv`` (its ``--lang`` rows); the header tells which.
"""

from dataclasses import dataclass, field

import numpy as np
from fairseq.tasks import register_task

from .. import paper
from ..data.finetune.datasets import LabeledPiecesDataset
from ..data.finetune.encoding import pair_pieces
from ..eval.readers import xnli
from ..eval.readers.examples import lines_of
from .finetune import FinetuneConfig, FinetuneTask

HEAD = "sentence"


@dataclass
class SentencePairConfig(FinetuneConfig):
    lang: str = field(
        default="en", metadata={"help": "language of the rows read from XNLI-1.0 files"}
    )


@register_task("recipes_sentence_pair", dataclass=SentencePairConfig)
class SentencePairTask(FinetuneTask):
    @classmethod
    def read(cls, cfg, path, lang=None):
        lang = lang or cfg.lang
        _, header = next(lines_of(path), (0, ""))
        if "gold_label" in header.split("\t"):
            return xnli.read_xnli(path, langs=[lang])
        return xnli.read_multinli(path, lang=lang)

    def define_labels(self, examples):
        self.labels = list(xnli.LABELS)

    def examples_dataset(self, examples):
        d = self.dictionary
        pieces, targets = [], []
        for i, ex in enumerate(examples):
            first = self.tokenizer.encode(ex.premise)
            second = self.tokenizer.encode(ex.hypothesis)
            try:
                new = pair_pieces(
                    i, first, second, self.cfg.max_piece_tokens, d.bos(), d.eos()
                )
            except ValueError as err:
                raise xnli.ReaderError(f"{ex.source}: {err}") from None
            pieces += new
            targets += [self.labels.index(ex.label)] * len(new)
        dataset = LabeledPiecesDataset(
            pieces, d.pad(), sentence_targets=np.array(targets)
        )
        return dataset, pieces

    def register_heads(self, model):
        model.register_head(HEAD, paper.PAIR_HEAD, len(self.labels))
