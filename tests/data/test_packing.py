import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, ListDataset
from fairseq.data.indexed_dataset import MMapIndexedDataset, make_builder

from fairseq_recipes.data.packing import build_packed_blocks
from fairseq_recipes.preprocessing.vocab import DOC_SEP, MASK


@pytest.fixture(scope="module")
def dictionary():
    d = Dictionary()
    for i in range(40):
        d.add_symbol(f"w{i}")
    d.add_symbol(DOC_SEP)
    d.add_symbol(MASK)
    return d


def documents(dictionary, lengths, seed=0):
    rng = np.random.default_rng(seed)
    low, high = dictionary.nspecial, dictionary.index("w39") + 1
    return [torch.from_numpy(rng.integers(low, high, size=n)).long() for n in lengths]


def as_dataset(docs):
    return ListDataset(docs, sizes=np.array([len(d) for d in docs]))


@pytest.mark.parametrize("lengths", [[5, 17, 3, 40, 1, 9], [8], [6, 6, 6, 6], [100]])
@pytest.mark.parametrize("tps", [3, 8, 16])
def test_blocks_are_full_except_the_last(dictionary, lengths, tps):
    blocks = build_packed_blocks(
        as_dataset(documents(dictionary, lengths)), dictionary, tps
    )
    sizes = [len(blocks[i]) for i in range(len(blocks))]
    assert all(size == tps for size in sizes[:-1])
    assert 3 <= sizes[-1] <= tps
    np.testing.assert_array_equal(blocks.sizes, sizes)
    assert blocks.sizes.dtype == np.int64
    for i in range(len(blocks)):
        assert blocks[i].dtype == torch.long
        assert blocks[i][0] == dictionary.bos() and blocks[i][-1] == dictionary.eos()
        assert blocks.num_tokens(i) == blocks.size(i) == sizes[i]


@pytest.mark.parametrize("tps", [4, 7, 512])
def test_no_token_lost_or_duplicated(dictionary, tps):
    docs = documents(dictionary, [5, 17, 3, 40, 1, 9, 12], seed=tps)
    blocks = build_packed_blocks(as_dataset(docs), dictionary, tokens_per_sample=tps)
    content = torch.cat([blocks[i][1:-1] for i in range(len(blocks))])
    sep = torch.tensor([dictionary.index(DOC_SEP)])
    expected = torch.cat([t for doc in docs for t in (doc, sep)][:-1])
    assert torch.equal(content, expected)
    # separators only between documents: one fewer than documents, none at the end
    assert int((content == sep).sum()) == len(docs) - 1
    assert content[-1] != sep


def test_unrelated_documents_share_a_block(dictionary):
    docs = documents(dictionary, [3, 3, 3])
    blocks = build_packed_blocks(as_dataset(docs), dictionary, tokens_per_sample=16)
    assert len(blocks) == 1
    assert blocks[0].tolist() == (
        [dictionary.bos()]
        + docs[0].tolist()
        + [dictionary.index(DOC_SEP)]
        + docs[1].tolist()
        + [dictionary.index(DOC_SEP)]
        + docs[2].tolist()
        + [dictionary.eos()]
    )


def test_packs_fairseq_mmap_datasets(tmp_path, dictionary):
    docs = documents(dictionary, [30, 2, 11, 7])
    builder = make_builder(
        str(tmp_path / "train.bin"), impl="mmap", vocab_size=len(dictionary)
    )
    for doc in docs:
        builder.add_item(doc)
    builder.finalize(str(tmp_path / "train.idx"))
    blocks = build_packed_blocks(
        MMapIndexedDataset(str(tmp_path / "train")), dictionary, 10
    )
    assert blocks.sizes.tolist() == [10] * 6 + [2 + (30 + 2 + 11 + 7 + 3) - 6 * 8]
    content = torch.cat([blocks[i][1:-1] for i in range(len(blocks))])
    assert len(content) == sum(map(len, docs)) + len(docs) - 1


def test_explicit_separator_and_bad_arguments(dictionary):
    docs = as_dataset(documents(dictionary, [2, 2]))
    blocks = build_packed_blocks(docs, dictionary, 16, doc_sep=dictionary.index(MASK))
    assert blocks[0][3] == dictionary.index(MASK)
    with pytest.raises(ValueError, match="tokens_per_sample"):
        build_packed_blocks(docs, dictionary, tokens_per_sample=2)
    with pytest.raises(ValueError, match="empty"):
        build_packed_blocks(as_dataset([]), dictionary)
    with pytest.raises(ValueError, match=r"\[DOC\]"):
        build_packed_blocks(docs, Dictionary())
