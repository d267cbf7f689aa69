"""What the fine-tuning tasks share (paper: fine-tuning; XTREME-style zero-shot).

``data`` is the pre-training data directory (``recipes-preprocess`` output): its
``dict.txt`` and ``spm.model`` are the encoder's vocabulary, so words are encoded exactly
as in pre-training. ``--train-file`` and ``--valid-file`` are the task's English files in
their released format; labels are those of the training file, and a label of the
validation file that training never saw is an error naming its line (or, with
``--map-unknown-labels-to O``, becomes ``O``). Inputs longer than ``--max-piece-tokens``
are cut into pieces (``data/finetune/encoding.py``), never truncated.

Subclasses define ``read(cfg, path)``, ``define_labels(examples)``,
``examples_dataset(examples)`` and ``register_heads(model)``.
"""

import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from fairseq.data import SortDataset, data_utils
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING

from .. import paper
from ..cost.ledger import ComputeLedgerTask
from ..errors import RecipesError
from ..eval.readers.examples import ReaderError, check_labels, labels_of
from ..preprocessing.vocab import SpmTokenizer, load_dictionary

logger = logging.getLogger(__name__)


@dataclass
class FinetuneFilesConfig(FairseqDataclass):
    """What every fine-tuning task reads: the vocabulary and the English files."""

    data: str = field(
        default=MISSING,
        metadata={"help": "pre-training data directory (dict.txt, spm.model)"},
    )
    train_file: str = field(
        default=MISSING, metadata={"help": "English training file (released format)"}
    )
    valid_file: str = field(
        default="", metadata={"help": "English validation file (released format)"}
    )
    seed: int = II("common.seed")


@dataclass
class FinetuneConfig(FinetuneFilesConfig):
    max_piece_tokens: int = field(
        default=paper.TOKENS_PER_SAMPLE,
        metadata={
            "help": "longest encoder input, <s> and </s> included; longer "
            "inputs are cut into pieces"
        },
    )
    map_unknown_labels_to: Optional[str] = field(
        default=None,
        metadata={
            "help": "map labels the training file lacks to this one (e.g. O) "
            "instead of stopping"
        },
    )


def load_vocabulary(data: str):
    """(dictionary, SpmTokenizer) of a pre-training data directory."""
    for name in ("dict.txt", "spm.model"):
        if not os.path.isfile(os.path.join(data, name)):
            raise RecipesError(
                f"{os.path.join(data, name)}: missing; the data directory must be "
                "recipes-preprocess output (the pre-trained model's vocabulary)"
            )
    dictionary = load_dictionary(os.path.join(data, "dict.txt"))
    return dictionary, SpmTokenizer(os.path.join(data, "spm.model"), dictionary)


class FinetuneTask(ComputeLedgerTask, FairseqTask):
    def __init__(self, cfg, dictionary, tokenizer: SpmTokenizer, train_examples):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.tokenizer = tokenizer
        self.train_examples = train_examples
        self.define_labels(train_examples)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        dictionary, tokenizer = load_vocabulary(cfg.data)
        examples = cls.read(cfg, cfg.train_file)
        if not examples:
            raise ReaderError(f"{cfg.train_file}: no training examples")
        logger.info(f"{cfg.train_file}: {len(examples)} training examples")
        return cls(cfg, dictionary, tokenizer, examples)

    # ---- what a task defines -----------------------------------------------------
    @classmethod
    def read(cls, cfg, path, lang=None):
        """The examples of one file in the task's released format (``lang``: of a file
        holding several languages, the rows of that one)."""
        raise NotImplementedError

    def define_labels(self, examples):
        raise NotImplementedError

    def examples_dataset(self, examples):
        """(LabeledPiecesDataset, pieces) of the examples."""
        raise NotImplementedError

    def register_heads(self, model):
        raise NotImplementedError

    # ---- shared --------------------------------------------------------------------
    @property
    def max_subwords(self) -> int:
        return self.cfg.max_piece_tokens - 2  # <s> and </s>

    def checked(self, examples):
        """The examples, every label known from training (or mapped)."""
        return check_labels(
            labels_of(self.train_examples), examples, self.cfg.map_unknown_labels_to
        )

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        if split == "train":
            examples = self.train_examples
        elif split == "valid" and self.cfg.valid_file:
            examples = self.checked(self.read(self.cfg, self.cfg.valid_file))
        else:
            raise RecipesError(
                f"subset {split!r}: fine-tuning tasks have 'train' and 'valid' "
                "(--valid-file); test sets are predicted by recipes-finetune"
            )
        dataset, _ = self.examples_dataset(examples)
        with data_utils.numpy_seed(self.cfg.seed, epoch):
            shuffle = np.random.permutation(len(dataset))
        self.datasets[split] = SortDataset(dataset, sort_order=[shuffle])
        logger.info(f"{split}: {len(examples)} examples, {len(dataset)} pieces")

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if model.max_positions() < self.cfg.max_piece_tokens:
            raise RecipesError(
                f"--max-piece-tokens {self.cfg.max_piece_tokens}: the encoder has only "
                f"{model.max_positions()} positions"
            )
        self.register_heads(model)
        return model

    def ledger_lengths(self, sample):
        """Encoder tokens per row, and no MLM positions: the heads are not counted."""
        lengths = sample["net_input"]["src_lengths"].tolist()
        return lengths, [0] * len(lengths)

    def max_positions(self):
        return self.cfg.max_piece_tokens

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
