"""Documents packed into fixed-length blocks, as both pre-training tasks read them.

Documents (one dataset item each, content tokens only) are concatenated with ``[DOC]``
between them (not after the last) and cut into blocks of exactly ``tokens_per_sample``
tokens counting ``<s>`` and ``</s>``: ``<s>`` + ``tokens_per_sample - 2`` content
tokens + ``</s>``. Unrelated documents share a block, so no token is padding; only the
last block is short. Everything is composed from fairseq's own datasets.
"""

import numpy as np
import torch
from fairseq.data import (
    AppendTokenDataset,
    BaseWrapperDataset,
    PrependTokenDataset,
    TokenBlockDataset,
)

from .. import paper
from ..preprocessing.vocab import DOC_SEP


class _KnownSizes(BaseWrapperDataset):
    """A wrapper whose item sizes are a precomputed int64 array ``self._sizes``."""

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])


class DocumentSeparatorDataset(_KnownSizes):
    """Appends ``sep`` to every item but the last, so separators sit between items."""

    def __init__(self, dataset, sep: int):
        super().__init__(dataset)
        self.sep = sep
        sizes = np.array(dataset.sizes, dtype=np.int64)
        sizes[:-1] += 1
        self._sizes = sizes

    def __getitem__(self, index):
        item = self.dataset[index]
        if index < len(self.dataset) - 1:
            item = torch.cat([item, item.new([self.sep])])
        return item


class PackedBlocks(_KnownSizes):
    """The packed blocks: items are LongTensors, ``sizes`` an int64 numpy array.

    fairseq's ``TokenBlockDataset`` has no ``num_tokens``/``size``; this wrapper answers
    them from ``sizes`` so that batching by size works on the blocks directly.
    """

    def __init__(self, blocks, tokens_per_sample: int):
        super().__init__(blocks)
        self.tokens_per_sample = tokens_per_sample
        self._sizes = np.asarray(blocks.sizes, dtype=np.int64)

    def __getitem__(self, index):
        return self.dataset[index].long()  # a no-op for fairseq's indexed datasets


def build_packed_blocks(
    doc_dataset,
    dictionary,
    tokens_per_sample: int = paper.TOKENS_PER_SAMPLE,
    doc_sep=None,
) -> PackedBlocks:
    """Pack ``doc_dataset`` (one document per item) into blocks (see the module doc).

    ``doc_sep`` is the separator id, by default ``dictionary.index("[DOC]")``.
    """
    if tokens_per_sample < 3:
        raise ValueError(
            f"tokens_per_sample must be >= 3 (bos, a token, eos), got {tokens_per_sample}"
        )
    if len(doc_dataset) == 0:
        raise ValueError("cannot pack an empty dataset of documents")
    if doc_sep is None:
        doc_sep = dictionary.index(DOC_SEP)
        if doc_sep == dictionary.unk():
            raise ValueError(f"the dictionary has no {DOC_SEP} symbol")
    separated = DocumentSeparatorDataset(doc_dataset, doc_sep)
    blocks = TokenBlockDataset(
        separated,
        separated.sizes,
        block_size=tokens_per_sample - 2,
        pad=dictionary.pad(),
        eos=dictionary.eos(),
        break_mode="none",
        include_targets=False,
    )
    blocks = PrependTokenDataset(blocks, dictionary.bos())
    blocks = AppendTokenDataset(blocks, dictionary.eos())
    return PackedBlocks(blocks, tokens_per_sample)
