"""Span denoising noise (BART/mBART text infilling) for packed multi-document blocks.

``noise_ratio`` of each block's *eligible* tokens (everything but ``<s>``, ``</s>``,
``<pad>`` and the document separator ``[DOC]``) is selected in spans whose lengths follow
a zero-truncated Poisson(``poisson_lambda``) (a drawn 0 is redrawn, so no span is empty).
Spans never touch a protected token's position nor cross one, and are never adjacent, so
every span is one ``<mask>`` in ``mask`` mode and a clean deletion in ``drop`` mode (no
``<mask>`` at all, unlike fairseq's ``denoising`` task, which inserts one for every
zero-length span even with ``--replace-length 0``).

Two layers:

* pure functions :func:`select_spans` / :func:`apply_spans`, vectorised with numpy (no
  per-token nor per-span Python loop): the noise feeds GPUs at >100k tokens/s each;
* :class:`SpanNoiseDataset`, a :class:`~fairseq.data.FairseqDataset` around a block
  dataset, deterministic given ``(seed, epoch, index)``.

How the spans are drawn, and why (the statistics must hold per 512-token block):

1. ``K = round(noise_ratio * n_eligible)`` tokens are selected, exactly. The span lengths
   are i.i.d. zero-truncated Poisson *conditioned on tiling K cells of a circle*: the first
   length is size-biased (``1 + Poisson(lambda)``), the others plain, and a draw is kept
   only if a prefix sums to exactly K. Cutting the last span to fit the budget (fairseq's
   way) biases the mean span length down by ~2% at K=76 (~13% at K=10), and conditioning a
   plain sequence to hit K still by ~1%; the circular conditioning keeps
   E[#spans] = K / E[length] exactly (checked numerically for K >= 10), so the pooled
   mean span length is unbiased while every block gets exactly K tokens.
2. Each span is put into a maximal run ("segment") of eligible tokens, with probability
   proportional to the segment's capacity ``len + 1`` (a span takes its length plus one
   separator cell; the last separator may be the protected token that ends the segment).
   Spans that overflow a segment are moved to segments with room, never clipped: clipping
   at document boundaries would shorten long spans exactly where documents are short.
3. Inside a segment the free cells are spread by sorted uniform offsets, so positions are
   uniform and spans keep at least one token between them.
"""

import math
from functools import lru_cache

import numpy as np
import torch
from fairseq.data import FairseqDataset
from fairseq.data.denoising_dataset import collate

NOISE_MODES = ("drop", "mask")

# draws of length sequences per try in _sample_lengths: about 1/E[length] of them hit K
_ROWS_PER_TRY = 8
# rounds of moving overflowing spans; after them a span that still has no room is dropped
_MAX_RELOCATION_ROUNDS = 8


@lru_cache(maxsize=16)
def _length_tables(poisson_lambda: float):
    """CDFs of the zero-truncated Poisson and of its size-biased version, and its mean."""
    kmax = int(poisson_lambda + 12.0 * math.sqrt(poisson_lambda) + 20)
    k = np.arange(kmax + 1, dtype=np.float64)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])
    pmf = np.exp(k * math.log(poisson_lambda) - poisson_lambda - log_fact)
    ztp = pmf[1:] / pmf[1:].sum()  # lengths 1..kmax
    # size-biased ZTP: P(l) ~ l * ztp(l) ~ pmf(l - 1), i.e. 1 + Poisson(lambda)
    size_biased = pmf[:-1] / pmf[:-1].sum()
    cdf_ztp = np.cumsum(ztp)
    cdf_sb = np.cumsum(size_biased)
    cdf_ztp /= cdf_ztp[-1]  # exactly 1 at the end: searchsorted never runs off the table
    cdf_sb /= cdf_sb[-1]
    lengths = np.arange(1, kmax + 1)
    mean = float((lengths * ztp).sum())
    var = float((lengths**2 * ztp).sum()) - mean**2
    return cdf_ztp, cdf_sb, mean, var


def expected_source_tokens(
    block_tokens: int, mode: str, noise_ratio: float, poisson_lambda: float
) -> float:
    """Mean encoder input length of a noised ``block_tokens`` block (``<s>``/``</s>``
    protected, no ``[DOC]``): K tokens leave it, and in ``mask`` mode each of its
    K / E[length] spans comes back as one ``<mask>``."""
    noised = round(noise_ratio * (block_tokens - 2))
    if mode == "drop":
        return float(block_tokens - noised)
    return block_tokens - noised + noised / _length_tables(poisson_lambda)[2]


def _sample_lengths(total: int, rng: np.random.Generator, poisson_lambda: float):
    """Zero-truncated Poisson lengths summing to exactly ``total`` (circular conditioning)."""
    cdf_ztp, cdf_sb, mean, var = _length_tables(poisson_lambda)
    # enough columns for a prefix to reach `total` except ~5 sigma away; never more than
    # `total`, since every length is >= 1
    n_spans_sd = math.sqrt(total * var / mean**3)
    cols = min(total, int(math.ceil(total / mean + 5.0 * n_spans_sd + 3.0)))
    rows = _ROWS_PER_TRY if total >= 8 else 4 * _ROWS_PER_TRY  # tiny totals hit rarely
    while True:  # ~1.05 tries on average for 512-token blocks
        u = rng.random((rows, cols))
        lengths = np.searchsorted(cdf_ztp, u, side="right") + 1
        lengths[:, 0] = np.searchsorted(cdf_sb, u[:, 0], side="right") + 1
        hit = np.cumsum(lengths, axis=1) == total
        hit_rows = hit.any(axis=1)
        if hit_rows.any():
            row = int(hit_rows.argmax())
            return lengths[row, : int(hit[row].argmax()) + 1]


def _segment_order(seg: np.ndarray, units: np.ndarray, key: np.ndarray):
    """Spans sorted by (segment, key); their units and exclusive within-segment offsets."""
    order = np.argsort(seg + key, kind="stable")  # key in [0, 1): sorts within segment
    seg_sorted = seg[order]
    units_sorted = units[order]
    cum = np.cumsum(units_sorted)
    first = np.empty(len(order), dtype=bool)
    first[:1] = True
    np.not_equal(seg_sorted[1:], seg_sorted[:-1], out=first[1:])
    # cumulative sums are non-decreasing: the running max of the segment-first values is
    # the base of each span's segment
    excl = cum - units_sorted
    base = np.maximum.accumulate(np.where(first, excl, 0))
    return order, seg_sorted, units_sorted, excl - base


def select_spans(
    eligible: np.ndarray,
    rng: np.random.Generator,
    noise_ratio: float = 0.15,
    poisson_lambda: float = 3.0,
):
    """Choose noise spans over the True positions of ``eligible``.

    Returns ``(starts, lengths)``, int64 arrays sorted by start. Spans lie inside maximal
    runs of eligible positions, do not overlap and are not adjacent; their lengths are
    zero-truncated Poisson(``poisson_lambda``) and add up to
    ``round(noise_ratio * eligible.sum())`` unless the runs are too short to hold them (a
    span that fits nowhere is dropped rather than clipped).
    """
    eligible = np.asarray(eligible, dtype=bool)
    empty = np.zeros(0, dtype=np.int64)
    total = int(round(noise_ratio * int(np.count_nonzero(eligible))))
    if total <= 0:
        return empty, empty.copy()

    # run edges: the changes of the zero-padded mask alternate start, end, start, ...
    padded = np.zeros(len(eligible) + 2, dtype=np.int8)
    padded[1:-1] = eligible
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    seg_start = edges[0::2]
    cap = edges[1::2] - seg_start + 1  # +1: room for the last span's separator

    lengths = _sample_lengths(total, rng, poisson_lambda)
    units = lengths + 1
    cum_cap = np.cumsum(cap)
    # segment ~ capacity; the fraction keeps it in the sort key of _segment_order
    seg = np.searchsorted(cum_cap, rng.random(len(lengths)) * cum_cap[-1], side="right")
    key = rng.random(len(lengths))

    order, seg_sorted, units_sorted, offset = _segment_order(seg, units, key)
    moved = False
    for _ in range(_MAX_RELOCATION_ROUNDS):
        over = offset + units_sorted > cap[seg_sorted]
        if not over.any():  # the usual case: the loop body runs once
            break
        # rare (short runs at document edges): move the overflowing spans, in random
        # order, to a segment with room, chosen proportionally to its free capacity
        moved = True
        evicted = order[over]
        free = cap - np.bincount(
            seg_sorted[~over], weights=units_sorted[~over], minlength=len(cap)
        ).astype(np.int64)
        room = np.where(free[None, :] >= units[evicted, None], free[None, :], 0)
        cum_room = np.cumsum(room, axis=1)
        fits = cum_room[:, -1] > 0
        draw = rng.random(len(evicted)) * cum_room[:, -1]
        seg[evicted] = (cum_room <= draw[:, None]).sum(axis=1)
        keep = np.ones(len(lengths), dtype=bool)
        keep[evicted[~fits]] = False  # too long for any free space left
        lengths, units, seg, key = lengths[keep], units[keep], seg[keep], key[keep]
        order, seg_sorted, units_sorted, offset = _segment_order(seg, units, key)
    else:
        over = offset + units_sorted > cap[seg_sorted]
        if over.any():  # still no room after all rounds: drop, never clip
            keep = np.ones(len(lengths), dtype=bool)
            keep[order[over]] = False
            lengths, units, seg = lengths[keep], units[keep], seg[keep]
    if moved:
        # the survivors' keys were biased low by the eviction order: redraw them (a
        # segment's load, hence its fit, does not depend on the order)
        key = rng.random(len(lengths))
        order, seg_sorted, units_sorted, offset = _segment_order(seg, units, key)

    if len(lengths) == 0:
        return empty, empty.copy()
    # sorted keys -> sorted uniform offsets in [0, free]: the free cells of the segment
    # spread uniformly between, before and after its spans
    load = np.bincount(seg_sorted, weights=units_sorted, minlength=len(cap))
    free = (cap - load.astype(np.int64))[seg_sorted]
    gap = (key[order] * (free + 1)).astype(np.int64)
    starts = seg_start[seg_sorted] + gap + offset
    return starts.astype(np.int64, copy=False), lengths[order].astype(np.int64)


def apply_spans(tokens, starts, lengths, mode: str, mask_idx=None) -> np.ndarray:
    """Noise ``tokens`` with the (non-overlapping, non-adjacent) spans.

    ``drop`` deletes every span; ``mask`` replaces every span by one ``mask_idx``.
    """
    tokens = np.asarray(tokens)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}, expected one of {NOISE_MODES}")
    if len(starts) == 0:
        return tokens.copy()
    # +1 at each start, -1 at each end: the running sum marks the spans. Spans are
    # non-adjacent, so no end coincides with a start and plain assignment is enough.
    delta = np.zeros(len(tokens) + 1, dtype=np.int8)
    delta[starts] = 1
    delta[starts + lengths] = -1
    keep = np.cumsum(delta[:-1], dtype=np.int8) == 0
    if mode == "drop":
        return tokens[keep]
    if mask_idx is None:
        raise ValueError("mask mode needs a mask index")
    out = tokens.copy()
    out[starts] = mask_idx
    keep[starts] = True
    return out[keep]


class SpanNoiseDataset(FairseqDataset):
    """Span-denoising seq2seq samples from a dataset of token blocks.

    Each item is ``{"id", "source": noised block, "target": the block}``; the decoder
    input is made by :meth:`collater` (the target shifted right, eos first).

    Args:
        blocks: dataset of 1-D LongTensor blocks (``<s> doc [DOC] doc ... </s>``)
        sizes: the blocks' lengths
        vocab (~fairseq.data.Dictionary): its bos, eos and pad are protected
        mode: ``drop`` (delete the spans) or ``mask`` (one ``mask_idx`` per span)
        seed: noise seed; the noise of an item depends on (seed, epoch, index) only
        noise_ratio: fraction of the eligible tokens to noise, in (0, 1)
        poisson_lambda: lambda of the zero-truncated Poisson span lengths, > 0
        doc_sep_idx: index of the ``[DOC]`` separator, protected as well
        mask_idx: index of ``<mask>``, required in ``mask`` mode
        shuffle: shuffle in :meth:`ordered_indices` (fairseq seeds it per epoch)
    """

    def __init__(
        self,
        blocks,
        sizes,
        vocab,
        *,
        mode: str,
        seed: int,
        noise_ratio: float = 0.15,
        poisson_lambda: float = 3.0,
        doc_sep_idx: int,
        mask_idx=None,
        shuffle: bool = True,
    ):
        if mode not in NOISE_MODES:
            raise ValueError(
                f"unknown noise mode {mode!r}, expected one of {NOISE_MODES}"
            )
        if mode == "mask" and mask_idx is None:
            raise ValueError("noise mode 'mask' needs a mask_idx")
        if not 0.0 < noise_ratio < 1.0:
            raise ValueError(f"noise_ratio must be in (0, 1), got {noise_ratio}")
        if not poisson_lambda > 0.0:
            raise ValueError(f"poisson_lambda must be > 0, got {poisson_lambda}")
        self.blocks = blocks
        self._sizes = np.asarray(sizes)
        self.vocab = vocab
        self.mode = mode
        self.seed = int(seed)
        self.noise_ratio = float(noise_ratio)
        self.poisson_lambda = float(poisson_lambda)
        self.doc_sep_idx = doc_sep_idx
        self.mask_idx = mask_idx
        self.shuffle = shuffle
        self.epoch = 1
        protected = [vocab.bos(), vocab.eos(), vocab.pad(), doc_sep_idx]
        # a lookup table: one gather per block instead of one comparison per token kind
        self._protected = np.zeros(max(len(vocab), max(protected) + 1), dtype=bool)
        self._protected[protected] = True
        _length_tables(self.poisson_lambda)  # fail fast, and build before workers fork

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        # Batches are built from num_tokens(), the block sizes: an upper bound of every
        # epoch's noised source (the noise only removes tokens) and the exact target
        # size. They do not depend on the epoch, so the batches can be reused; the noise
        # itself is redrawn per epoch in __getitem__ (set_epoch reaches the workers,
        # since fairseq makes a new DataLoader per epoch).
        return getattr(self.blocks, "can_reuse_epoch_itr_across_epochs", True)

    def set_epoch(self, epoch, **unused):
        super().set_epoch(epoch)
        self.epoch = epoch
        if hasattr(self.blocks, "set_epoch"):
            self.blocks.set_epoch(epoch)

    def noise_spans(self, index: int, tokens=None):
        """The spans ``(starts, lengths)`` of item ``index`` at the current epoch."""
        if tokens is None:
            tokens = self.blocks[index]
        eligible = ~self._protected[np.asarray(tokens)]
        # default_rng(SeedSequence) rather than data_utils.numpy_seed: ~10 us against
        # ~80 us per item here (numpy_seed saves, reseeds and restores the global
        # MT19937), no shared global state, and full-entropy streams instead of
        # hash(...) % 1e6, which makes distinct items share their noise.
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return select_spans(eligible, rng, self.noise_ratio, self.poisson_lambda)

    def __getitem__(self, index):
        target = self.blocks[index]
        tokens = target.numpy() if torch.is_tensor(target) else np.asarray(target)
        starts, lengths = self.noise_spans(index, tokens)
        source = apply_spans(tokens, starts, lengths, self.mode, self.mask_idx)
        if not torch.is_tensor(target):
            target = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
        return {"id": index, "source": torch.from_numpy(source), "target": target}

    def __len__(self):
        return len(self.blocks)

    def collater(self, samples, pad_to_length=None):
        batch = collate(
            samples,
            self.vocab.pad(),
            self.vocab.eos(),
            self.vocab,
            pad_to_length=pad_to_length,
        )
        if batch:
            # fairseq's collate puts the first source's length here, not the batch size
            batch["nsentences"] = len(samples)
        return batch

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
        if self.shuffle:
            indices = np.random.permutation(len(self))
        else:
            indices = np.arange(len(self))
        return indices[np.argsort(self._sizes[indices], kind="mergesort")]

    @property
    def supports_prefetch(self):
        return getattr(self.blocks, "supports_prefetch", False)

    def prefetch(self, indices):
        self.blocks.prefetch(indices)
