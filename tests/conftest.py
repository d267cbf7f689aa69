"""Session fixtures: one small preprocessed corpus shared by the training tests."""

import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from helpers import python_module, shared_data  # noqa: E402


@pytest.fixture(scope="session")
def raw_corpus(tmp_path_factory):
    """Real text (the UD treebanks' sentences) when ../shared/data is present, else the
    embedded toy corpus."""
    out = tmp_path_factory.mktemp("raw") / "text"
    shared = shared_data()
    if shared is not None:
        python_module(
            "fairseq_recipes.data.ud_text", "--input", shared / "ud", "--output", out
        )
    else:
        python_module(
            "fairseq_recipes.data.toy_corpus", "--output", out, "--docs-per-lang", "60"
        )
    return out


@pytest.fixture(scope="session")
def data_bin(raw_corpus, tmp_path_factory):
    """recipes-preprocess output: 2 shards, per-language validation."""
    out = tmp_path_factory.mktemp("bin") / "data-bin"
    python_module(
        "fairseq_recipes.data.binarize",
        "--input", raw_corpus, "--output", out, "--vocab-size", "3000",
        "--num-shards", "2", "--valid-docs", "2", "--workers", "2",
    )  # fmt: skip
    return out
