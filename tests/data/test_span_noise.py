import math

import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, ListDataset

from fairseq_recipes.data.span_noise import SpanNoiseDataset, apply_spans, select_spans

N_BLOCKS = 10_000
BLOCK = 512
SEED = 7
ZTP_MEAN = 3.0 / (1.0 - math.exp(-3.0))  # ~3.157


def _vocab():
    vocab = Dictionary()
    for i in range(500):
        vocab.add_symbol(f"w{i}")
    doc_sep = vocab.add_symbol("[DOC]")
    mask = vocab.add_symbol("<mask>")
    return vocab, doc_sep, mask


def _blocks(vocab, doc_sep, n, rng):
    """n packed blocks of 512 tokens, documents of 30-300 tokens, then a short one."""
    body = BLOCK - 2
    stream = rng.integers(vocab.nspecial, doc_sep, size=n * body)
    ends = np.cumsum(rng.integers(30, 301, size=n * body // 30 + 1))
    stream[ends[ends < len(stream)]] = doc_sep
    rows = [stream[i * body : (i + 1) * body] for i in range(n)]
    rows.append(np.array([vocab.nspecial + 1] * 40 + [doc_sep] + [vocab.nspecial] * 57))
    return [
        torch.from_numpy(np.concatenate([[vocab.bos()], row, [vocab.eos()]]))
        for row in rows
    ]


def _dataset(blocks, vocab, doc_sep, mask, mode, seed=SEED):
    sizes = np.array([len(b) for b in blocks])
    return SpanNoiseDataset(
        ListDataset(blocks, sizes),
        sizes,
        vocab,
        mode=mode,
        seed=seed,
        doc_sep_idx=doc_sep,
        mask_idx=mask,
    )


def _covered(n, starts, lengths):
    # slice by slice: independent of apply_spans' cumulative-sum marking
    covered = np.zeros(n, dtype=bool)
    for start, length in zip(starts.tolist(), lengths.tolist()):
        covered[start : start + length] = True
    return covered


@pytest.fixture(scope="module")
def corpus():
    vocab, doc_sep, mask = _vocab()
    blocks = _blocks(vocab, doc_sep, N_BLOCKS, np.random.default_rng(0))
    drop = _dataset(blocks, vocab, doc_sep, mask, "drop")
    masked = _dataset(blocks, vocab, doc_sep, mask, "mask")
    protected = np.array([vocab.bos(), vocab.eos(), vocab.pad(), doc_sep])
    items = []
    for i, block in enumerate(blocks):
        tokens = block.numpy()
        starts, lengths = drop.noise_spans(i)
        items.append(
            {
                "tokens": tokens,
                "protected": np.isin(tokens, protected),
                "starts": starts,
                "lengths": lengths,
                "drop": drop[i],
                "mask": masked[i],
            }
        )
    return {
        "vocab": vocab,
        "doc_sep": doc_sep,
        "mask": mask,
        "blocks": blocks,
        "drop": drop,
        "masked": masked,
        "items": items,
    }


def test_statistics(corpus):
    selected = eligible = spans = 0
    for item in corpus["items"]:
        n_eligible = int((~item["protected"]).sum())
        # exactly the budget: these blocks always have room for it
        assert item["lengths"].sum() == round(0.15 * n_eligible)
        selected += int(item["lengths"].sum())
        eligible += n_eligible
        spans += len(item["lengths"])
    fraction = selected / eligible
    mean_length = selected / spans
    assert abs(fraction - 0.15) <= 0.005, fraction
    assert abs(mean_length / ZTP_MEAN - 1.0) <= 0.03, mean_length


def test_length_distribution_is_zero_truncated_poisson(corpus):
    lengths = np.concatenate([item["lengths"] for item in corpus["items"]])
    assert lengths.min() >= 1
    observed = np.bincount(lengths, minlength=9)[1:9] / len(lengths)
    k = np.arange(1, 9)
    expected = np.exp(-3.0) * 3.0**k / np.array([math.factorial(i) for i in k])
    expected /= 1.0 - math.exp(-3.0)
    assert np.abs(observed - expected).max() < 0.01


def test_spans_valid_and_protected_tokens_kept(corpus):
    for item in corpus["items"]:
        tokens, starts, lengths = item["tokens"], item["starts"], item["lengths"]
        assert (lengths >= 1).all()
        # sorted, disjoint and not adjacent: at least one kept token between spans
        assert (starts[1:] > starts[:-1] + lengths[:-1]).all()
        covered = _covered(len(tokens), starts, lengths)
        assert not (covered & item["protected"]).any()
        for mode in ("drop", "mask"):
            source = item[mode]["source"].numpy()
            protected_src = source[np.isin(source, tokens[item["protected"]])]
            np.testing.assert_array_equal(protected_src, tokens[item["protected"]])
            assert source[0] == tokens[0] and source[-1] == tokens[-1]


def test_drop_removes_spans_without_mask(corpus):
    mask = corpus["mask"]
    for item in corpus["items"]:
        source = item["drop"]["source"].numpy()
        assert not (source == mask).any()
        covered = _covered(len(item["tokens"]), item["starts"], item["lengths"])
        np.testing.assert_array_equal(source, item["tokens"][~covered])


def test_mask_one_mask_per_span_and_reconstruction(corpus):
    mask = corpus["mask"]
    for item in corpus["items"]:
        tokens, starts, lengths = item["tokens"], item["starts"], item["lengths"]
        source = item["mask"]["source"].numpy()
        mask_pos = np.flatnonzero(source == mask)
        assert len(mask_pos) == len(starts)
        # put each span back in place of its <mask>
        pieces = np.split(source, mask_pos)
        rebuilt = [pieces[0]]
        for piece, start, length in zip(pieces[1:], starts, lengths):
            rebuilt += [tokens[start : start + length], piece[1:]]
        np.testing.assert_array_equal(np.concatenate(rebuilt), tokens)


def test_targets_are_blocks(corpus):
    for i in (0, 1, N_BLOCKS // 2, N_BLOCKS):
        for mode in ("drop", "mask"):
            item = corpus["items"][i][mode]
            assert item["id"] == i
            assert torch.equal(item["target"], corpus["blocks"][i])
            assert item["source"].dtype == torch.long


def test_determinism(corpus):
    vocab, doc_sep, mask, blocks = (
        corpus[k] for k in ("vocab", "doc_sep", "mask", "blocks")
    )
    indices = list(range(20)) + [N_BLOCKS]
    for mode in ("drop", "mask"):
        ds = _dataset(blocks, vocab, doc_sep, mask, mode)
        for i in indices:
            assert torch.equal(ds[i]["source"], corpus["items"][i][mode]["source"])
        ds.set_epoch(2)
        for i in indices:
            assert not torch.equal(ds[i]["source"], corpus["items"][i][mode]["source"])
        ds.set_epoch(1)
        for i in indices:
            assert torch.equal(ds[i]["source"], corpus["items"][i][mode]["source"])
        other_seed = _dataset(blocks, vocab, doc_sep, mask, mode, seed=SEED + 1)
        for i in indices:
            assert not torch.equal(
                other_seed[i]["source"], corpus["items"][i][mode]["source"]
            )


def test_collater(corpus):
    vocab, masked = corpus["vocab"], corpus["masked"]
    pad, eos = vocab.pad(), vocab.eos()
    indices = [N_BLOCKS, 3, 0, 17, 5]  # the short last block too
    samples = [masked[i] for i in indices]
    batch = masked.collater(samples)
    src = batch["net_input"]["src_tokens"]
    src_lengths = batch["net_input"]["src_lengths"]
    prev = batch["net_input"]["prev_output_tokens"]
    target = batch["target"]
    n = len(indices)
    assert src.shape == (n, max(len(s["source"]) for s in samples))
    assert target.shape == prev.shape == (n, BLOCK)
    assert batch["nsentences"] == n
    assert batch["ntokens"] == sum(len(s["target"]) for s in samples)
    assert sorted(batch["id"].tolist()) == sorted(indices)
    for row, index in enumerate(batch["id"].tolist()):
        block = corpus["blocks"][index]
        length = len(block)
        source = masked[index]["source"]
        assert src_lengths[row] == len(source)
        assert torch.equal(src[row, : len(source)], source)
        assert (src[row, len(source) :] == pad).all()
        assert torch.equal(target[row, :length], block)
        assert (target[row, length:] == pad).all()
        # decoder input: the target shifted right, eos first
        assert prev[row, 0] == eos
        assert torch.equal(prev[row, 1:length], block[:-1])
        assert (prev[row, length:] == pad).all()
    assert masked.collater([]) == {}


def test_dataset_interface(corpus):
    ds = corpus["drop"]
    assert len(ds) == N_BLOCKS + 1
    assert ds.num_tokens(0) == ds.size(0) == BLOCK
    assert ds.num_tokens(N_BLOCKS) == 100
    np.testing.assert_array_equal(ds.num_tokens_vec(np.array([0, N_BLOCKS])), [512, 100])
    order = ds.ordered_indices()
    assert sorted(order.tolist()) == list(range(len(ds)))
    assert order[0] == N_BLOCKS  # shortest first
    assert ds.can_reuse_epoch_itr_across_epochs
    assert not ds.supports_prefetch


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "shuffle"}, "unknown noise mode"),
        ({"mode": "mask", "mask_idx": None}, "needs a mask_idx"),
        ({"noise_ratio": 0.0}, "noise_ratio"),
        ({"noise_ratio": 1.0}, "noise_ratio"),
        ({"poisson_lambda": 0.0}, "poisson_lambda"),
    ],
)
def test_invalid_options(kwargs, message):
    vocab, doc_sep, mask = _vocab()
    options = dict(mode="drop", seed=1, doc_sep_idx=doc_sep, mask_idx=mask)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SpanNoiseDataset([], np.zeros(0, dtype=np.int64), vocab, **options)


def test_apply_spans_options():
    tokens = np.arange(10)
    starts, lengths = np.array([1, 5]), np.array([2, 3])
    np.testing.assert_array_equal(
        apply_spans(tokens, starts, lengths, "drop"), [0, 3, 4, 8, 9]
    )
    np.testing.assert_array_equal(
        apply_spans(tokens, starts, lengths, "mask", 99), [0, 99, 3, 4, 99, 8, 9]
    )
    with pytest.raises(ValueError, match="unknown noise mode"):
        apply_spans(tokens, starts, lengths, "swap")
    with pytest.raises(ValueError, match="mask index"):
        apply_spans(tokens, starts, lengths, "mask")


def test_select_spans_edge_cases():
    rng = np.random.default_rng(0)
    starts, lengths = select_spans(np.zeros(50, dtype=bool), rng)
    assert len(starts) == len(lengths) == 0
    starts, lengths = select_spans(np.zeros(0, dtype=bool), rng)
    assert len(starts) == 0
    # short, fragmented runs at any ratio and lambda: spans stay valid, never clipped
    for _ in range(2000):
        eligible = rng.random(int(rng.integers(1, 120))) < rng.random()
        ratio = rng.uniform(0.01, 0.9)
        starts, lengths = select_spans(eligible, rng, ratio, rng.uniform(0.2, 8.0))
        assert (lengths >= 1).all()
        assert (starts[1:] > starts[:-1] + lengths[:-1]).all()
        covered = _covered(len(eligible), starts, lengths)
        assert covered.sum() == lengths.sum()
        assert not (covered & ~eligible).any()
        assert lengths.sum() <= round(ratio * eligible.sum())
    # one long run: the budget is met exactly
    eligible = np.ones(1000, dtype=bool)
    for _ in range(50):
        _, lengths = select_spans(eligible, rng, 0.3, 5.0)
        assert lengths.sum() == 300
