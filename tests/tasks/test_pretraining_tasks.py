"""Batches of both pre-training tasks, against the packed blocks they come from."""

import math

import pytest
import torch
from fairseq.data import data_utils
from fairseq_setup import setup

from fairseq_recipes.data.packing import build_packed_blocks
from fairseq_recipes.preprocessing.vocab import DOC_SEP
from fairseq_recipes.tasks.multilingual_blocks import TaskDataError

TPS = 64


def _task(data_bin, name, *extra):
    data = f"{data_bin}/shard0:{data_bin}/shard1"
    task, _ = setup(
        data,
        "--task",
        name,
        "--arch",
        "roberta_12e" if name == "recipes_mlm" else "bart_12e1d",
        "--tokens-per-sample",
        TPS,
        *extra,
    )
    return task


def _blocks(task, data_bin, lang, split):
    docs = data_utils.load_indexed_dataset(
        str(data_bin / "shard0" / lang / split), task.dictionary
    )
    return build_packed_blocks(docs, task.dictionary, TPS, task.doc_sep_idx)


@pytest.mark.parametrize("mode", ["drop", "mask"])
def test_span_denoising_batch(data_bin, mode):
    task = _task(data_bin, "recipes_span_denoising", "--noise-mode", mode)
    task.load_dataset("valid_en")
    ds = task.dataset("valid_en")
    blocks = _blocks(task, data_bin, "en", "valid")
    assert len(ds) == len(blocks)
    indices = list(range(min(len(ds), 6)))
    batch = ds.collater([ds[i] for i in indices])
    d = task.dictionary
    assert batch["nsentences"] == len(indices)
    for row, i in enumerate(batch["id"].tolist()):
        block = blocks[i]
        target = batch["target"][row]
        assert torch.equal(target[target.ne(d.pad())], block)
        prev = batch["net_input"]["prev_output_tokens"][row]
        assert prev[0] == d.eos() and torch.equal(prev[1 : len(block)], block[:-1])
        src = batch["net_input"]["src_tokens"][row]
        src = src[src.ne(d.pad())]
        n_mask = int(src.eq(task.mask_idx).sum())
        assert (n_mask == 0) if mode == "drop" else (n_mask > 0)
        assert src[0] == d.bos() and src[-1] == d.eos()
        # [DOC] separators are never noised away
        assert int(src.eq(task.doc_sep_idx).sum()) == int(
            block.eq(task.doc_sep_idx).sum()
        )


def test_mlm_batch(data_bin):
    task = _task(data_bin, "recipes_mlm")
    task.load_dataset("valid")
    ds = task.dataset("valid")
    batch = ds.collater([ds[i] for i in range(len(ds))])
    d = task.dictionary
    src, tgt = batch["net_input"]["src_tokens"], batch["target"]
    real = src.ne(d.pad())
    selected = tgt.ne(d.pad())
    frac = selected.sum().item() / real.sum().item()
    assert 0.12 < frac < 0.18, frac
    # unselected positions are the original tokens; most selected ones are <mask>
    assert src[selected].eq(task.mask_idx).float().mean() > 0.6
    assert not src[~selected & real].eq(task.mask_idx).any()


def test_validation_subset_per_language(data_bin):
    task = _task(data_bin, "recipes_span_denoising")
    for lang in task.langs:
        task.load_dataset(f"valid_{lang}")
        assert len(task.dataset(f"valid_{lang}")) > 0
    with pytest.raises(TaskDataError, match="xx"):
        task.load_dataset("valid_xx")


def test_training_sample_is_resampled_per_epoch_deterministically(data_bin):
    def draw(epoch):
        task = _task(data_bin, "recipes_span_denoising")
        task.load_dataset("train", epoch=epoch)
        ds = task.dataset("train")
        ds.set_epoch(epoch)
        return [ds[i]["source"].tolist() for i in range(20)]

    first = draw(1)
    again = draw(1)
    second = draw(3)  # shard0 again, next resampling and noise
    assert first == again
    assert first != second


def test_langs_option(data_bin):
    task = _task(data_bin, "recipes_mlm", "--langs", "en,fr")
    assert task.langs == ["en", "fr"]
    with pytest.raises(TaskDataError, match="--langs"):
        _task(data_bin, "recipes_mlm", "--langs", "en,zz")


def test_doc_separator_in_dictionary(data_bin):
    task = _task(data_bin, "recipes_mlm")
    assert task.dictionary[task.doc_sep_idx] == DOC_SEP
    assert task.dictionary.index("<mask>") == task.mask_idx


def _drawn(cls, blocks, d, mask_idx, **kw):
    """The tokens at selected positions when every selected token is replaced by a
    random one (random_token_prob 1): all of them random draws."""
    drawn = []
    for seed in (1, 2, 3):
        settings = dict(
            pad_idx=d.pad(),
            mask_idx=mask_idx,
            seed=seed,
            mask_prob=0.5,
            leave_unmasked_prob=0.0,
            random_token_prob=1.0,
            **kw,
        )
        src = cls(blocks, d, return_masked_tokens=False, **settings)
        tgt = cls(blocks, d, return_masked_tokens=True, **settings)
        for i in range(len(blocks)):
            drawn += src[i][tgt[i].ne(d.pad())].tolist()
    return drawn


def test_mlm_random_replacements_are_words(data_bin):
    """BERT's 10% random tokens: fairseq's MaskTokensDataset draws <mask>, [DOC] and the
    word sentinels too (it excludes only its four specials); the task draws text pieces
    only, each as likely."""
    from collections import Counter

    from fairseq.data import MaskTokensDataset

    from fairseq_recipes.data.mlm_masking import TextReplacementMaskTokensDataset
    from fairseq_recipes.preprocessing.vocab import EXTRA_SYMBOLS

    task = _task(data_bin, "recipes_mlm")
    d = task.dictionary
    excluded = {d.index(s) for s in EXTRA_SYMBOLS}
    assert len(excluded) == 258
    blocks = [b for lang in task.langs for b in _blocks(task, data_bin, lang, "valid")]
    stock = _drawn(MaskTokensDataset, blocks, d, task.mask_idx)
    ours = _drawn(
        TextReplacementMaskTokensDataset,
        blocks,
        d,
        task.mask_idx,
        not_replacements=sorted(excluded),
    )
    assert len(stock) == len(ours) > 5000  # the same positions are selected
    share = len(excluded) / (len(d) - d.nspecial)
    expected = share * len(stock)
    hits = sum(t in excluded for t in stock)
    assert abs(hits - expected) < 5 * (expected * (1 - share)) ** 0.5 and hits > 0
    assert not any(t in excluded or t < d.nspecial for t in ours)
    # uniform over the text pieces: as many distinct pieces as uniform draws give, and
    # none drawn far more often than the others
    counts = Counter(ours)
    text_pieces = len(d) - d.nspecial - len(excluded)
    mean = len(ours) / text_pieces
    distinct = text_pieces * (1 - math.exp(-mean))
    assert abs(len(counts) - distinct) < 0.05 * distinct
    assert max(counts.values()) < mean + 6 * mean**0.5 + 3
    # and the task masks with it
    task = _task(
        data_bin,
        "recipes_mlm",
        "--mask-prob",
        "0.5",
        "--random-token-prob",
        "1.0",
        "--leave-unmasked-prob",
        "0",
    )
    task.load_dataset("valid")
    ds = task.dataset("valid")
    batch = ds.collater([ds[i] for i in range(len(ds))])
    src, tgt = batch["net_input"]["src_tokens"], batch["target"]
    drawn = src[tgt.ne(d.pad())].tolist()
    assert len(drawn) > 1000 and not any(t in excluded for t in drawn)
