"""What the seq2seq fine-tuning tasks share (paper: fine-tuning, mTOP and XSUM).

Examples are read from the released files at start-up (``--train-file``,
``--valid-file``, ``--test-file``; no binarization step) and encoded with the
pre-training SentencePiece model of ``data``: the source as ``<s> ... </s>`` like the
pre-training blocks (cut to ``--max-source-tokens``), the target as ``... </s>`` (cut to
``--max-target-tokens``). Subsets are ``train``, ``valid`` and ``test`` or ``test.LANG``:
``--test-file`` may hold ``{lang}`` (``mtop/{lang}/test.txt``), so that
``fairseq-generate --gen-subset test.de`` decodes German. Generated text is turned back
into words by the task (no ``--bpe`` needed), and with ``--validate-by-generation`` each
validation generates with ``--eval-beam`` and logs the task's metric (``metric_name``),
so that ``--best-checkpoint-metric`` can select on it.

Subclasses define ``read(cfg, path, lang, split)``, ``encode(example)`` (source and target
ids), ``reference(example)`` and ``scored_text(target_ids, source_ids)``, and may
override ``readable(hypos, sample)`` and ``metric(references, hypotheses)``.
"""

import logging
from argparse import Namespace
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np
import torch
from fairseq import metrics
from fairseq.data import LanguagePairDataset
from fairseq.data.encoders.sentencepiece_bpe import (
    SentencepieceBPE,
    SentencepieceConfig,
)
from fairseq.tasks import FairseqTask

from .. import paper
from ..cost.ledger import ComputeLedgerTask
from ..errors import RecipesError
from ..eval.readers.examples import ReaderError
from .finetune import FinetuneFilesConfig, load_vocabulary

logger = logging.getLogger(__name__)


@dataclass
class Seq2SeqFinetuneConfig(FinetuneFilesConfig):
    test_file: str = field(
        default="",
        metadata={
            "help": "test file; {lang} in it is the language of --gen-subset " "test.LANG"
        },
    )
    max_source_tokens: int = field(
        default=paper.TOKENS_PER_SAMPLE,
        metadata={"help": "longest source, <s> and </s> included; longer ones are cut"},
    )
    max_target_tokens: int = field(
        default=paper.TOKENS_PER_SAMPLE,
        metadata={"help": "longest target, </s> included; longer ones are cut"},
    )
    validate_by_generation: bool = field(
        default=False,
        metadata={"help": "generate on each validation and log the task's metric"},
    )
    eval_beam: int = field(
        default=paper.SEQ2SEQ_FINETUNE_BEAM,
        metadata={"help": "beam of --validate-by-generation"},
    )


def _undo_beamable(model) -> None:
    """fairseq's SequenceGenerator switches a BART model to "beamable" cross-attention for
    good (``BARTModel.set_beam_size``), after which a training forward fails on the
    beam-shaped view of its keys. Undo it: generation stays exact (the encoder output is
    reordered to the beams instead), only that cache-saving trick is lost."""
    for layer in getattr(model.decoder, "layers", []):
        attention = getattr(layer, "encoder_attn", None)
        if attention is not None and hasattr(attention, "set_beam_size"):
            attention.set_beam_size(1)
    model.encoder.__dict__.pop("reorder_encoder_out", None)


class Seq2SeqFinetuneTask(ComputeLedgerTask, FairseqTask):
    #: the metric --validate-by-generation logs (a percentage, higher is better)
    metric_name = "score"

    def __init__(self, cfg, dictionary, tokenizer):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.tokenizer = tokenizer
        self.examples = {}
        #: ids that are never text (dropped when ids are turned back into words)
        self.special_ids = {dictionary.bos(), dictionary.eos(), dictionary.pad()}

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        dictionary, tokenizer = load_vocabulary(cfg.data)
        return cls(cfg, dictionary, tokenizer)

    # ---- what a task defines -----------------------------------------------------
    @classmethod
    def read(cls, cfg, path, lang=None, split="test") -> list:
        """The examples of a file (``split``: train, valid or test, for readers of
        releases that keep the split apart from the files)."""
        raise NotImplementedError

    def encode(self, example) -> Tuple[np.ndarray, np.ndarray]:
        """Source and target ids, without <s> and </s>."""
        raise NotImplementedError

    def reference(self, example) -> str:
        raise NotImplementedError

    def scored_text(self, tokens, source_tokens) -> str:
        """The text the metric reads, of target ids (generated or gold) of a source."""
        raise NotImplementedError

    def readable(self, hypos, sample):
        """fairseq-generate's hypotheses (and target) as they are printed and scored."""
        return hypos

    def metric(self, references: List[str], hypotheses: List[str]) -> float:
        raise NotImplementedError

    # ---- data ----------------------------------------------------------------------
    def split_file(self, split: str) -> Tuple[str, str]:
        """(path, language) of a subset."""
        name, _, lang = split.partition(".")
        path = {
            "train": self.cfg.train_file,
            "valid": self.cfg.valid_file,
            "test": self.cfg.test_file,
        }.get(name)
        if path is None or (lang and name != "test"):
            raise RecipesError(
                f"subset {split!r}: expected train, valid, test or test.LANG"
            )
        if not path:
            option = "--valid-file" if name == "valid" else f"--{name}-file"
            raise RecipesError(f"subset {split!r}: no {option} given")
        if "{lang}" in path:
            if not lang:
                raise RecipesError(
                    f"--test-file {path}: name the language, e.g. --gen-subset test.en"
                )
            path = path.replace("{lang}", lang)
        return path, lang or "en"

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path, lang = self.split_file(split)
        examples = self.read(self.cfg, path, lang, split=split.partition(".")[0])
        if not examples:
            raise ReaderError(f"{path}: no examples")
        bos, eos = self.dictionary.bos(), self.dictionary.eos()
        sources, targets, cut = [], [], 0
        for example in examples:
            source, target = self.encode(example)
            keep_source = self.cfg.max_source_tokens - 2
            keep_target = self.cfg.max_target_tokens - 1
            cut += len(source) > keep_source or len(target) > keep_target
            sources.append(
                torch.from_numpy(np.concatenate([[bos], source[:keep_source], [eos]]))
            )
            targets.append(
                torch.from_numpy(np.concatenate([target[:keep_target], [eos]]))
            )
        self.examples[split] = examples
        self.datasets[split] = LanguagePairDataset(
            sources,
            np.array([len(s) for s in sources]),
            self.dictionary,
            targets,
            np.array([len(t) for t in targets]),
            self.dictionary,
            left_pad_source=False,
            left_pad_target=False,
            shuffle=(split == "train"),
        )
        logger.info(f"{split}: {len(examples)} examples from {path}, {cut} cut to length")

    def build_dataset_for_inference(self, src_tokens, src_lengths, **kwargs):
        return LanguagePairDataset(
            src_tokens, src_lengths, self.dictionary, left_pad_source=False
        )

    def build_bpe(self, args):
        """fairseq-generate turns ids into text with the data's SentencePiece model."""
        if args is not None and getattr(args, "_name", None):
            return super().build_bpe(args)
        return SentencepieceBPE(
            SentencepieceConfig(sentencepiece_model=self.tokenizer.spm_path)
        )

    # ---- validation by generation --------------------------------------------------
    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if self.cfg.validate_by_generation:
            self.sequence_generator = self.build_generator(
                [model],
                Namespace(beam=self.cfg.eval_beam, max_len_b=self.cfg.max_target_tokens),
            )
            _undo_beamable(model)
        return model

    def generated_pairs(self, generator, model, sample):
        """(reference, hypothesis) texts of a batch, best beam."""
        hypos = super().inference_step(generator, [model], sample)
        pad = self.dictionary.pad()
        pairs = []
        for i, beams in enumerate(hypos):
            source = sample["net_input"]["src_tokens"][i]
            source = source[source.ne(pad)]
            target = sample["target"][i]
            target = target[target.ne(pad)]
            pairs.append(
                (
                    self.scored_text(target, source),
                    self.scored_text(beams[0]["tokens"], source),
                )
            )
        return pairs

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        if self.cfg.validate_by_generation:
            pairs = self.generated_pairs(self.sequence_generator, model, sample)
            references, hypotheses = zip(*pairs)
            logging_output["_gen_total"] = len(pairs)
            logging_output["_gen_score_sum"] = self.metric(
                list(references), list(hypotheses)
            ) * len(pairs)
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        total = sum(log.get("_gen_total", 0) for log in logging_outputs)
        if total:
            score = sum(log.get("_gen_score_sum", 0) for log in logging_outputs)
            metrics.log_scalar("_gen_total", total)
            metrics.log_scalar("_gen_score_sum", score)
            metrics.log_derived(
                self.metric_name,
                lambda meters: meters["_gen_score_sum"].sum
                / max(meters["_gen_total"].sum, 1),
            )

    def inference_step(
        self, generator, models, sample, prefix_tokens=None, constraints=None
    ):
        hypos = super().inference_step(
            generator,
            models,
            sample,
            prefix_tokens=prefix_tokens,
            constraints=constraints,
        )
        return self.readable(hypos, sample)

    def max_positions(self):
        return (self.cfg.max_source_tokens, self.cfg.max_target_tokens)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
