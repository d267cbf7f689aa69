"""fairseq datasets of fine-tuning pieces: encoder inputs with token and/or sentence
targets, batched with fairseq's padding conventions."""

from typing import List, Optional, Sequence

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from .encoding import IGNORE, Piece


class LabeledPiecesDataset(FairseqDataset):
    """Item ``i``: ``pieces[i].tokens`` with ``token_targets[i]`` (a label id on each
    word's first subword, IGNORE elsewhere) and/or ``sentence_targets[i]``."""

    def __init__(
        self,
        pieces: Sequence[Piece],
        pad: int,
        token_targets: Optional[List[np.ndarray]] = None,
        sentence_targets: Optional[Sequence[int]] = None,
    ):
        self.pieces = list(pieces)
        self.pad = pad
        self.token_targets = token_targets
        self.sentence_targets = sentence_targets
        self._sizes = np.array([len(p.tokens) for p in self.pieces], dtype=np.int64)

    def __getitem__(self, index):
        item = {"id": index, "source": torch.from_numpy(self.pieces[index].tokens)}
        if self.token_targets is not None:
            item["target"] = torch.from_numpy(self.token_targets[index])
        if self.sentence_targets is not None:
            item["label"] = int(self.sentence_targets[index])
        return item

    def __len__(self):
        return len(self.pieces)

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    def num_tokens_vec(self, indices):
        return self._sizes[indices]

    def collater(self, samples):
        if not samples:
            return {}
        sources = [s["source"] for s in samples]
        batch = {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": sum(len(s) for s in sources),
            "net_input": {
                "src_tokens": data_utils.collate_tokens(sources, self.pad),
                "src_lengths": torch.tensor([len(s) for s in sources]),
            },
        }
        if self.token_targets is not None:
            batch["target"] = data_utils.collate_tokens(
                [s["target"] for s in samples], IGNORE
            )
        if self.sentence_targets is not None:
            batch["sentence_target"] = torch.tensor([s["label"] for s in samples])
        return batch
