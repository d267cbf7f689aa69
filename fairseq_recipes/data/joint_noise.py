"""Both noisings of every block, for recipe 3's joint MLM + span-denoising training.

Which objective an update trains is decided per update (``objective_schedule.py``), after
the batches are drawn, so every batch carries both views of its blocks:

* ``mlm``: what ``recipes_mlm`` makes of the block (fairseq's ``MaskTokensDataset``,
  seeded by (seed, epoch, index)), collated as that task collates it;
* ``denoising``: what ``recipes_span_denoising`` makes of it (``SpanNoiseDataset``, keyed
  by (seed, epoch, index) too), collated as that task collates it.

With the same seed each view is exactly the one the single-objective task would have
made of the same block, and batches are built from the block sizes as both tasks build
them: a joint run reads the data of ``roberta-12e`` and ``bart-12e12d`` block for block.
The top level of a batch holds what fairseq's trainer reads (``ntokens``: the block tokens,
the same for both views; ``nsentences``; ``id``).
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset

from .objective_schedule import DENOISING, MLM


class JointNoiseDataset(FairseqDataset):
    def __init__(self, mlm, denoising, sizes):
        if len(mlm) != len(denoising) or len(mlm) != len(sizes):
            raise ValueError(
                "the MLM and span-denoising views must cover the same blocks"
            )
        self.views = {MLM: mlm, DENOISING: denoising}
        self._sizes = np.asarray(sizes)

    def __getitem__(self, index):
        return {"id": index, **{name: view[index] for name, view in self.views.items()}}

    def __len__(self):
        return len(self._sizes)

    def collater(self, samples):
        if not samples:
            return {}
        batch = {
            name: view.collater([s[name] for s in samples])
            for name, view in self.views.items()
        }
        batch.update(
            id=torch.LongTensor([s["id"] for s in samples]),
            nsentences=len(samples),
            # from the items (fairseq's ConcatDataset collates every language's items
            # with the first language's dataset)
            ntokens=sum(len(s[DENOISING]["target"]) for s in samples),
        )
        return batch

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        for view in self.views.values():
            if hasattr(view, "set_epoch"):
                view.set_epoch(epoch)

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return all(
            getattr(view, "can_reuse_epoch_itr_across_epochs", True)
            for view in self.views.values()
        )

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return self._sizes[index]

    def num_tokens_vec(self, indices):
        return self._sizes[indices]

    def size(self, index):
        return self._sizes[index]

    def ordered_indices(self):
        return np.argsort(self._sizes, kind="mergesort")

    @property
    def supports_prefetch(self):
        return False
