"""What both pre-training tasks share: packed multilingual blocks, sampled across languages.

Data layout (written by ``recipes-preprocess``): ``DATA/shard{K}/{lang}/train.{bin,idx}``
(one item per document) and ``DATA/shard0/{lang}/valid.{bin,idx}``. ``--data`` is the colon
list of shards, walked one per epoch (fairseq's convention). Training draws from the
languages with probabilities p_i ~ (n_i / N)^alpha, resampled every epoch (deterministic
given seed and epoch); validation is ``valid`` (all languages) or ``valid_{lang}`` (one),
so ``--valid-subset valid_en,valid_fr`` reports each language separately.
"""

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from fairseq import utils
from fairseq.data import (
    ConcatDataset,
    Dictionary,
    ResamplingDataset,
    SortDataset,
    data_utils,
)
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING

from .. import paper
from ..checkpoints.encoder_state import DICTIONARY_STATE_KEY, dictionary_fingerprint
from ..cost.ledger import ComputeLedgerTask
from ..cost.model_shape import ModelShape, count_parameters
from ..data.packing import build_packed_blocks
from ..data.sampling import resampling_ratios
from ..data.shard_check import check_corpus
from ..errors import RecipesError
from ..models.freeze import protect_frozen
from ..preprocessing.vocab import DOC_SEP, MASK

logger = logging.getLogger(__name__)


def _sizes(dataset) -> np.ndarray:
    """One size array (NestedDictionaryDataset keeps a list of them)."""
    sizes = dataset.sizes
    return sizes[0] if isinstance(sizes, (list, tuple)) else sizes


class TaskDataError(RecipesError):
    """The data directory does not hold what the task needs."""


@dataclass
class MultilingualDataConfig(FairseqDataclass):
    data: str = field(
        default=MISSING,
        metadata={
            "help": "colon-separated shard directories from recipes-preprocess "
            "(DATA/shard0:DATA/shard1:...), one per epoch in turn"
        },
    )
    langs: str = field(
        default="",
        metadata={
            "help": "comma-separated languages to train on (sub-directories of each "
            "shard); default: every language of the first shard"
        },
    )
    multilang_sampling_alpha: float = field(
        default=paper.SAMPLING_ALPHA,
        metadata={"help": "language sampling exponent: p_i ~ (n_i / N)^alpha"},
    )
    tokens_per_sample: int = field(
        default=paper.TOKENS_PER_SAMPLE,
        metadata={"help": "tokens per packed block, bos and eos included"},
    )
    seed: int = II("common.seed")


class MultilingualBlocksTask(ComputeLedgerTask, FairseqTask):
    """Base of the MLM and span-denoising tasks.

    Subclasses define ``build_noised_dataset(blocks, split)``, which turns one language's
    packed blocks into batches of (noised source, target).
    """

    def __init__(self, cfg, dictionary: Dictionary, langs):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.langs = list(langs)
        self.mask_idx = dictionary.add_symbol(MASK)
        self.doc_sep_idx = dictionary.index(DOC_SEP)

    # ---- setup ---------------------------------------------------------------------
    @classmethod
    def setup_task(cls, cfg, **kwargs):
        paths = utils.split_paths(cfg.data)
        dict_path = os.path.join(paths[0], "dict.txt")
        if not os.path.exists(dict_path):
            raise TaskDataError(
                f"{dict_path}: no dictionary; --data must list shard directories "
                "written by recipes-preprocess"
            )
        try:
            dictionary = Dictionary.load(dict_path)
        except Exception as err:  # fairseq raises bare Exception/ValueError
            raise TaskDataError(
                f"{dict_path}: not a fairseq dictionary ({err})"
            ) from None
        if DOC_SEP not in dictionary.indices:
            raise TaskDataError(f"{dict_path}: the dictionary has no {DOC_SEP} symbol")
        langs = cls.discover_langs(paths[0], cfg.langs)
        # every shard and split this run will read, before any training
        check_corpus(paths, langs, len(dictionary))
        logger.info(f"dictionary: {len(dictionary)} types; languages: {','.join(langs)}")
        return cls(cfg, dictionary, langs)

    @staticmethod
    def discover_langs(shard, requested: str):
        found = sorted(
            d
            for d in os.listdir(shard)
            if os.path.isdir(os.path.join(shard, d))
            and any(
                os.path.exists(os.path.join(shard, d, f"{s}.idx"))
                for s in ("train", "valid")
            )
        )
        if requested:
            langs = [lang for lang in requested.split(",") if lang]
            missing = [lang for lang in langs if lang not in found]
            if missing:
                raise TaskDataError(
                    f"--langs: {','.join(missing)} not found in {shard} "
                    f"(has: {','.join(found) or 'none'})"
                )
            return langs
        if not found:
            raise TaskDataError(f"{shard}: no language directories with data")
        return found

    # ---- datasets ------------------------------------------------------------------
    def _blocks(self, data_path, lang, split):
        prefix = os.path.join(data_path, lang, split)
        docs = data_utils.load_indexed_dataset(prefix, self.dictionary, combine=False)
        if docs is None:
            return None
        return build_packed_blocks(
            docs,
            self.dictionary,
            tokens_per_sample=self.cfg.tokens_per_sample,
            doc_sep=self.doc_sep_idx,
        )

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        paths = utils.split_paths(self.cfg.data)
        if split.startswith("valid_") or split.startswith("test_"):
            base, lang = split.split("_", 1)
            blocks = self._blocks(paths[0], lang, base)
            if blocks is None:
                raise TaskDataError(
                    f"{os.path.join(paths[0], lang, base)}.idx: no {base} split for "
                    f"language {lang!r} (subset {split})"
                )
            dataset = self.build_noised_dataset(blocks, split)
        else:
            # training walks the shards; validation always comes from the first one
            is_train = split == getattr(self.cfg, "train_subset", "train")
            data_path = paths[(epoch - 1) % len(paths)] if is_train else paths[0]
            per_lang = {}
            for lang in self.langs:
                blocks = self._blocks(data_path, lang, split)
                if blocks is None:
                    if is_train:
                        raise TaskDataError(
                            f"{os.path.join(data_path, lang, split)}.idx: missing"
                        )
                    logger.warning(f"{lang}: no {split} split in {data_path}")
                    continue
                per_lang[lang] = self.build_noised_dataset(blocks, split)
            if not per_lang:
                raise TaskDataError(f"{data_path}: no {split} data for any language")
            if is_train:
                dataset = self._resample(per_lang, epoch)
            else:
                dataset = ConcatDataset(list(per_lang.values()))
        with data_utils.numpy_seed(self.cfg.seed, epoch):
            shuffle = np.random.permutation(len(dataset))
        self.datasets[split] = SortDataset(dataset, sort_order=[shuffle, _sizes(dataset)])
        logger.info(f"{split}: {len(dataset)} blocks (epoch {epoch})")

    def _resample(self, per_lang, epoch):
        langs = list(per_lang)
        tokens = np.array([_sizes(per_lang[lang]).sum() for lang in langs], dtype=float)
        ratios = resampling_ratios(tokens, self.cfg.multilang_sampling_alpha)
        resampled = []
        for lang, ratio in zip(langs, ratios):
            logger.info(f"{lang}: {tokens[langs.index(lang)]:.0f} tokens, x{ratio:.3f}")
            resampled.append(
                ResamplingDataset(
                    per_lang[lang],
                    size_ratio=ratio,
                    seed=self.cfg.seed,
                    epoch=epoch,
                    replace=ratio >= 1.0,
                )
            )
        return ConcatDataset(resampled)

    # ---- fairseq plumbing ----------------------------------------------------------
    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def state_dict(self):
        """Task state saved in checkpoints: the dictionary's fingerprint, so that a model
        warm-started from this checkpoint can check it shares the dictionary."""
        return {
            **super().state_dict(),
            DICTIONARY_STATE_KEY: dictionary_fingerprint(self.dictionary),
        }

    def check_resumed_state(self, state: dict, path) -> None:
        """A checkpoint this run resumes from (or starts from) was trained with this
        dictionary: same size and symbols (``compat/task_state_resume.py`` calls this
        before the weights are loaded)."""
        recorded = (state or {}).get(DICTIONARY_STATE_KEY)
        ours = dictionary_fingerprint(self.dictionary)
        if recorded is None or dict(recorded) == ours:
            return
        dict_path = os.path.join(utils.split_paths(self.cfg.data)[0], "dict.txt")
        raise TaskDataError(
            f"{path}: trained with another dictionary ({recorded['size']} symbols, "
            f"sha256 {recorded['sha256'][:12]}) than {dict_path} ({ours['size']} "
            f"symbols, sha256 {ours['sha256'][:12]}): resume on the data it was trained "
            "on (DATA), or start a new run in another SAVE_DIR"
        )

    def optimizer_step(self, optimizer, model, update_num):
        # a model with a freeze schedule keeps its frozen weights bit-identical
        with protect_frozen(model, optimizer):
            super().optimizer_step(optimizer, model, update_num)

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        shape = ModelShape.of_model(model)
        logger.info(
            f"{getattr(cfg, 'arch', None) or getattr(cfg, '_name', 'model')} parameters: "
            f"{sum(p.numel() for p in model.parameters()):,} "
            f"(formula: {count_parameters(shape):,}; {shape})"
        )
        return model
