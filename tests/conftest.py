"""Session fixtures: one small preprocessed corpus shared by the training tests."""

import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from helpers import python_module, shared_data, write_mtop  # noqa: E402


@pytest.fixture(scope="session")
def raw_corpus(tmp_path_factory):
    """Real text (the UD treebanks' sentences) when ../shared/data is present, else the
    embedded toy corpus."""
    out = tmp_path_factory.mktemp("raw") / "text"
    shared = shared_data()
    if shared is not None:
        python_module(
            "fairseq_recipes.preprocessing.ud_text",
            "--input",
            shared / "ud",
            "--output",
            out,
        )
    else:
        python_module(
            "fairseq_recipes.toy.corpus", "--output", out, "--docs-per-lang", "60"
        )
    return out


@pytest.fixture(scope="session")
def data_bin(raw_corpus, tmp_path_factory):
    """recipes-preprocess output: 2 shards, per-language validation."""
    out = tmp_path_factory.mktemp("bin") / "data-bin"
    python_module(
        "fairseq_recipes.preprocessing.binarize",
        "--input",
        raw_corpus,
        "--output",
        out,
        "--vocab-size",
        "3000",
        "--num-shards",
        "2",
        "--valid-docs",
        "2",
        "--workers",
        "2",
    )
    return out


#: per-script environment of the session's smoke runs: the unfreezing run also saves at
#: its switch (update 10 of 18), so the frozen phase's end can be inspected; recipe 3's
#: joint run trains 18 updates instead of 30 (MLM at 6, 12 and 18: three points to fall)
SMOKE_ENV = {
    "2stage-bart-12e12d-unfrz": {"SAVE_INTERVAL": 5},
    "bart-12e12d-joint": {"UPDATES": 18},
}


@pytest.fixture(scope="session")
def smoke(data_bin, tmp_path_factory):
    """Run a train script in smoke mode once per session; returns (save_dir, output).

    A recipe stage starts from the smoke checkpoint of the stage it names (INIT), so
    asking for ``2stage-bart-12e12d`` first runs ``roberta-12e``: the chains of the paper.
    Tests must not train these save directories further (copy them first).
    """
    from helpers import train_script

    from fairseq_recipes.recipes import STAGES

    root = tmp_path_factory.mktemp("ck")
    done = {}

    def get(name):
        if name not in done:
            env = {"LOG_INTERVAL": 1, **SMOKE_ENV.get(name, {})}
            init_from = STAGES[name].init_from
            if init_from:
                env["INIT"] = get(init_from)[0] / "checkpoint_last.pt"
            save_dir = root / name
            proc = train_script(name, data_bin, save_dir, **env)
            done[name] = (save_dir, proc.stdout + proc.stderr)
        return done[name]

    return get


@pytest.fixture(scope="session")
def corpus_words(raw_corpus, data_bin):
    """English words of the corpus that SentencePiece spells back exactly."""
    from fairseq_recipes.tasks.finetune import load_vocabulary

    _, encoder = load_vocabulary(str(data_bin))
    found = []
    for word in (raw_corpus / "en.txt").read_text(encoding="utf-8").split():
        if (
            word.isalpha()
            and word not in found
            and encoder.decode(encoder.encode(word)) == word
        ):
            found.append(word)
        if len(found) == 60:
            return found
    raise AssertionError("fewer than 60 English words")


@pytest.fixture(scope="session")
def mtop(tmp_path_factory, corpus_words):
    """A learnable mTOP-format set in English and German (``helpers.write_mtop``)."""
    return write_mtop(tmp_path_factory.mktemp("mtop"), corpus_words)
