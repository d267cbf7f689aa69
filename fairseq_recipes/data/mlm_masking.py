"""MLM masking whose random replacements are words of text.

fairseq's ``MaskTokensDataset`` replaces BERT's 10% of the selected tokens by a token
drawn uniformly from the dictionary, excluding only its four special symbols (``<s>``,
``<pad>``, ``</s>``, ``<unk>``). Our dictionary also holds ``<mask>``, ``[DOC]`` and the
256 word sentinels ``<w0>``..``<w255>`` (``vocab.EXTRA_SYMBOLS``): none of them is a word,
and a random replacement is meant to be another word. A ``<mask>`` drawn there would be
an 80% case in disguise; a document separator or a sentinel teaches the encoder nothing
it will see in text. This dataset draws from the text pieces only, uniformly, and is
otherwise fairseq's (selection, 80/10/10 split, seeding by (seed, epoch, index)).
"""

from typing import Iterable

import numpy as np
from fairseq.data import MaskTokensDataset


class TextReplacementMaskTokensDataset(MaskTokensDataset):
    """``MaskTokensDataset`` with ``not_replacements``: ids never drawn as a random
    replacement (beyond fairseq's four specials)."""

    def __init__(self, dataset, vocab, *args, not_replacements: Iterable[int] = (), **kw):
        super().__init__(dataset, vocab, *args, **kw)
        if self.random_token_prob > 0.0:
            weights = np.array(self.weights, dtype=np.float64)
            weights[list(not_replacements)] = 0.0
            self.weights = weights / weights.sum()
