"""``--task recipes_semantic_parsing``: mTOP, utterance to decoupled logical form.

``--target-format sentinels`` (default, CLASP-style): every input word is preceded by its
word sentinel and the target names slot words by their sentinels, so the model points at
input words instead of spelling them (``eval/readers/sentinels.py``). ``words``: the plain
format, the input as is and the target with its words. Either way the metric is SCIEM on
forms with words: fairseq-generate prints and scores hypotheses and references with the
sentinels mapped back to the words of their input, as the input's ids spell them.

Ids spell a word as the pre-training SentencePiece model does: normalized (NFKC: a
precomposed ``ज़``, U+095B, becomes ``ज`` and a nukta) and with ``⁇`` for characters it
lacks (Thai, for a model trained on none). A pointer names the input's word exactly, so
where the exact words matter (``recipes-finetune``'s scores) they come from the file:
``--keep-sentinels`` makes fairseq-generate print the pointer form (H- lines: pieces and
``<wi>`` symbols), which ``scored_text(..., words=example.words)`` turns into the form
with the file's words.
"""

import re
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch
from fairseq.data import data_utils
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..data.finetune.encoding import word_subwords
from ..eval.readers.examples import ReaderError
from ..eval.readers.mtop import read_mtop
from ..eval.readers.sentinels import from_sentinels, sentinel_index, to_sentinels
from ..preprocessing.vocab import WORD_SENTINELS
from ..scoring.sciem import sciem
from .seq2seq_finetune import Seq2SeqFinetuneConfig, Seq2SeqFinetuneTask

TARGET_FORMAT_CHOICES = ChoiceEnum(["sentinels", "words"])
_SENTINEL_SYMBOL = re.compile(r"(<w\d+>)")


class _SpacedSentinels:
    """Decoding that keeps each sentinel a word of its own, as --keep-sentinels prints
    them (``[SL:X <w5> ]``; SentencePiece alone glues them: ``[SL:X<w5> ]``)."""

    def __init__(self, bpe):
        self.bpe = bpe

    def encode(self, x: str) -> str:
        return self.bpe.encode(x)

    def decode(self, x: str) -> str:
        return " ".join(_SENTINEL_SYMBOL.sub(r" \1 ", self.bpe.decode(x)).split())

    def is_beginning_of_word(self, x: str) -> bool:
        return self.bpe.is_beginning_of_word(x)


@dataclass
class SemanticParsingConfig(Seq2SeqFinetuneConfig):
    target_format: TARGET_FORMAT_CHOICES = field(
        default="sentinels",
        metadata={
            "help": "sentinels: the target points at input words through word "
            "sentinels; words: the target spells its words"
        },
    )
    keep_sentinels: bool = field(
        default=False,
        metadata={
            "help": "fairseq-generate: print hypotheses and targets in the "
            "pointer form (<wi> kept), to be mapped to the exact input words "
            "(recipes-finetune does); default: the words the input's ids spell"
        },
    )


@register_task("recipes_semantic_parsing", dataclass=SemanticParsingConfig)
class SemanticParsingTask(Seq2SeqFinetuneTask):
    metric_name = "sciem"

    def __init__(self, cfg, dictionary, tokenizer):
        super().__init__(cfg, dictionary, tokenizer)
        self.sentinels = str(cfg.target_format) == "sentinels"
        self.sentinel_ids = np.array([dictionary.index(s) for s in WORD_SENTINELS])
        self.sentinel_of = {int(i): k for k, i in enumerate(self.sentinel_ids)}

    @classmethod
    def read(cls, cfg, path, lang=None, split=None):
        return read_mtop(path, lang)

    def reference(self, example) -> str:
        return example.logical_form

    def metric(self, references, hypotheses) -> float:
        return sciem(references, hypotheses)

    # ---- ids -------------------------------------------------------------------------
    def _text_ids(self, tokens: List[str]) -> np.ndarray:
        """Ids of whitespace tokens: sentinels are symbols, runs of others are text."""
        out, run = [], []
        for token in tokens + [None]:
            if token is None or sentinel_index(token) is not None:
                if run:
                    out.append(self.tokenizer.encode(" ".join(run)))
                    run = []
                if token is not None:
                    out.append([self.dictionary.index(token)])
            else:
                run.append(token)
        return np.concatenate(out).astype(np.int64)

    def encode(self, example):
        if not self.sentinels:
            return (
                self.tokenizer.encode(" ".join(example.words)).astype(np.int64),
                self._text_ids(example.logical_form.split()),
            )
        if len(example.words) > len(WORD_SENTINELS):
            raise ReaderError(
                f"{example.source}: {len(example.words)} words, more than the "
                f"{len(WORD_SENTINELS)} word sentinels of the dictionary"
            )
        subwords = word_subwords(self.tokenizer, example.words, self.dictionary.unk())
        source = np.concatenate(
            [
                np.concatenate([[self.sentinel_ids[i]], ids])
                for i, ids in enumerate(subwords)
            ]
        ).astype(np.int64)
        target = to_sentinels(example.words, example.logical_form)
        return source, self._text_ids(target.split())

    def _decode(self, ids) -> str:
        """Ids to text, sentinels as ``<wi>``."""
        out, run, special = [], [], self.special_ids
        for i in [int(x) for x in ids] + [None]:
            if i is None or i in self.sentinel_of:
                if run:
                    out.append(self.tokenizer.decode(run))
                    run = []
                if i is not None:
                    out.append(WORD_SENTINELS[self.sentinel_of[i]])
            elif i not in special:
                run.append(i)
        return " ".join(out)

    def source_words(self, source_tokens) -> List[str]:
        """The input words of a sentinel-marked source, as its ids spell them."""
        words, special = {}, self.special_ids
        current = None
        for i in [int(x) for x in source_tokens]:
            if i in self.sentinel_of:
                current = words.setdefault(self.sentinel_of[i], [])
            elif current is not None and i not in special:
                current.append(i)
        return [self.tokenizer.decode(words.get(k, [])) for k in range(len(words))]

    def scored_text(self, tokens, source_tokens, words=None) -> str:
        """The form of target ids; a sentinel becomes its input word: ``words[i]`` (the
        file's, exact) when given, else as ``source_tokens`` spell it."""
        text = self._decode(tokens)
        if not self.sentinels:
            return text
        if words is None:
            words = self.source_words(source_tokens)
        return from_sentinels(text, words)

    def build_bpe(self, args):
        bpe = super().build_bpe(args)
        return _SpacedSentinels(bpe) if self.cfg.keep_sentinels else bpe

    def readable(self, hypos, sample):
        """Hypotheses and target with words in place of sentinels (fairseq-generate),
        unless --keep-sentinels."""
        if not self.sentinels or self.cfg.keep_sentinels:
            return hypos
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        sources = [s[s.ne(pad)] for s in sample["net_input"]["src_tokens"]]

        def words_ids(tokens, source):
            ids = self.tokenizer.encode(self.scored_text(tokens, source))
            return torch.from_numpy(np.append(ids, eos).astype(np.int64)).to(tokens)

        for beams, source in zip(hypos, sources):
            for hypo in beams:
                hypo["tokens"] = words_ids(hypo["tokens"], source)
        if sample.get("target") is not None:
            targets = [t[t.ne(pad)] for t in sample["target"]]
            sample["target"] = data_utils.collate_tokens(
                [words_ids(t, s) for t, s in zip(targets, sources)], pad
            )
        return hypos
