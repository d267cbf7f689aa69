"""The main job's TOML configuration: defaults, passthrough to the tools, one-line errors."""

import tomllib

import pytest

from fairseq_recipes import paper
from fairseq_recipes.errors import RecipesError
from fairseq_recipes.pipeline import config
from fairseq_recipes.recipes import STAGES

CONFIGS = config.ROOT / "configs"


def _load(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config.load(str(path))


def test_a_toy_corpus_without_languages_gets_the_toy_worlds():
    from fairseq_recipes.toy.lexicon import LANGS

    assert config.toy_langs() == list(LANGS)  # configs/toy.toml lists them all
    assert config.from_dict({}, "x").langs == list(LANGS)
    assert config.from_dict({"corpus": {"toy": False, "input": "d"}}, "x").langs == list(
        paper.LANGUAGES
    )


def test_the_default_is_configs_toy_toml():
    cfg = config.load(None)
    toy = tomllib.loads((CONFIGS / "toy.toml").read_text())
    assert cfg.models == list(STAGES)
    assert cfg.jobs == toy["jobs"] and cfg.docs_per_lang == toy["corpus"]["docs_per_lang"]
    assert cfg.pretrain == toy["pretrain"]
    assert cfg.evaluations == ["xnli", "matis", "wikiann", "udpos", "mtop", "xsum"]
    assert cfg.toy and cfg.eval_toy
    mtop = toy["evaluate"]["finetune"]["mtop"]["max_updates"]
    assert cfg.finetune_options("mtop")[:3] == ["--cpu", "--max-updates", str(mtop)]


@pytest.mark.parametrize("name", ["toy", "smoke", "paper", "single-gpu", "rehearsal"])
def test_every_shipped_configuration_loads(name):
    cfg = config.load(str(CONFIGS / f"{name}.toml"))
    assert cfg.models == list(STAGES)


def test_the_small_configuration_runs_what_the_findings_compare():
    from fairseq_recipes.eval import findings

    cfg = config.load(str(CONFIGS / "small.toml"))
    compared = {f.model for f in findings.FINDINGS} | {
        m for f in findings.FINDINGS for m in f.others or ()
    }
    assert set(cfg.models) == compared
    tasks = {t for f in findings.FINDINGS for t in f.tasks}
    assert set(cfg.evaluations) == tasks
    # an interval over pre-training seeds needs 3 to be narrower than the spread x 4.3
    assert cfg.pretrain_seeds == 3 and cfg.seeds == 2
    assert cfg.pretrain_env("bart-12e12d")["EMBED_DIM"] == "128"


def test_the_paper_configuration_keeps_every_paper_number_at_its_default():
    cfg = config.load(str(CONFIGS / "paper.toml"))
    assert cfg.langs == list(paper.LANGUAGES) and cfg.seeds == paper.FINETUNE_SEEDS
    assert not cfg.toy and not cfg.eval_toy
    assert set(cfg.eval_data) == set(config.EVALUATION_NAMES)
    assert cfg.finetune_options("xnli") == []  # recipes-finetune's defaults: the paper's
    for model in STAGES:
        env = cfg.pretrain_env(model)
        assert env["SMOKE"] == "0" and env["GPUS_PER_NODE"] == "8"
        # shapes, blocks, batch, update counts and learning rates: the scripts' defaults
        assert not {
            "UPDATES",
            "UPDATE_DIVISOR",
            "TOKENS_PER_UPDATE",
            "TOKENS_PER_SAMPLE",
            "PEAK_LR",
            "WARMUP",
            "EMBED_DIM",
            "FFN_DIM",
            "HEADS",
        } & set(env)


def test_extends_toy_overrides_only_what_it_sets(tmp_path):
    cfg = _load(
        tmp_path,
        "extends_toy = true\n[pretrain]\nUPDATE_DIVISOR = 5\n"
        "[pretrain.roberta-12e]\nPEAK_LR = 1e-3\n",
    )
    assert cfg.pretrain["SMOKE"] == 1 and cfg.pretrain["UPDATE_DIVISOR"] == 5
    assert cfg.pretrain_env("roberta-12e")["PEAK_LR"] == "0.001"
    assert "PEAK_LR" not in cfg.pretrain_env("bart-12e12d")


def test_options_become_flags(tmp_path):
    cfg = _load(
        tmp_path,
        "[evaluate.finetune]\ncpu = true\nmax_updates = 3\n"
        '[evaluate.finetune.mtop]\ntarget_format = "words"\n',
    )
    assert cfg.finetune_options("xnli") == ["--cpu", "--max-updates", "3"]
    assert cfg.finetune_options("mtop")[-2:] == ["--target-format", "words"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("jobz = 2", "jobz: unknown setting"),
        ("jobs = 0", "jobs: must be at least 1"),
        ('jobs = "2"', "jobs: expected int"),
        ('models = ["gpt"]', "unknown model 'gpt'"),
        ("[pretrain]\nUPDATEZ = 1", "pretrain.UPDATEZ: unknown setting"),
        ('[pretrain]\nDATA = "x"', "pretrain.DATA: set by the main job"),
        ("[pretrain.gpt]\nSMOKE = 1", "pretrain.gpt: not a Table 1 model"),
        ("[preprocess]\nvocab = 3", "preprocess.vocab: unknown setting"),
        ("[evaluate.finetune]\nmax_update = 3", "evaluate.finetune.max_update: unknown"),
        ('[evaluate]\nevaluations = ["squad"]', "unknown evaluation 'squad'"),
        ('[evaluate]\ndata = {xnli = "/x"}', "no directory for task(s) matis"),
        ("[corpus]\ntoy = false", "corpus.toy: false, but neither"),
        ("x = [", "not valid TOML"),
        # types and ranges of every value, checked when the file is read
        ("[evaluate]\nseeds = 0", "evaluate.seeds: must be at least 1"),
        ("pretrain_seeds = 0", "pretrain_seeds: must be at least 1"),
        ('pretrain_seeds = "2"', "pretrain_seeds: expected int"),
        ("pretrain_seeds = 2\n[rehearsal]", "pretrain_seeds: the rehearsal runs one"),
        ("[evaluate]\nseeds = -2", "evaluate.seeds: must be at least 1"),
        ('[evaluate]\nseeds = "3"', "evaluate.seeds: expected int"),
        ("[evaluate]\ntoy_test = 0", "evaluate.toy_test: must be at least 1"),
        ("[corpus]\ndocs_per_lang = 0", "corpus.docs_per_lang: must be at least 1"),
        ('[pretrain]\nUPDATES = "abc"', "pretrain.UPDATES=abc: expected a whole number"),
        ("[pretrain]\nUPDATES = 0", "pretrain.UPDATES=0: must be >= 1"),
        ("[pretrain.roberta-12e]\nPEAK_LR = -1", "pretrain.roberta-12e.PEAK_LR=-1"),
        ('[pretrain]\nPRECISION = "fp8"', "pretrain.PRECISION=fp8: expected bf16, fp16"),
        ("[pretrain]\nMLM_SHARE = 2", "pretrain.MLM_SHARE=2: must be >= 0 and < 1"),
        (
            '[pretrain]\nOBJECTIVE_SCHEDULE = "x"',
            "pretrain.OBJECTIVE_SCHEDULE=x: expected",
        ),
        (
            "[pretrain]\nEMBED_DIM = 65\nHEADS = 4",
            "EMBED_DIM=65: must be a multiple of HEADS",
        ),
        ('[preprocess]\nvocab_size = "big"', "preprocess.vocab_size: invalid int"),
        ("[preprocess]\nvocab_size = 0", "preprocess.vocab_size must be >= 1"),
        ('[evaluate.finetune]\nmax_updates = "x"', "evaluate.finetune.max_updates:"),
        ("[evaluate.finetune.mtop]\nbatch_size = 0", "evaluate.finetune.mtop.batch_size"),
        ('[evaluate.finetune]\ncpu = "yes"', "evaluate.finetune.cpu: expected true"),
        ('[evaluate.finetune]\ntarget_format = "x"', "target_format: invalid choice"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_file_and_key(
    tmp_path, text, message
):
    with pytest.raises(RecipesError, match="c.toml") as err:
        _load(tmp_path, text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(RecipesError, match="--config .*nothing.toml"):
        config.load(str(tmp_path / "nothing.toml"))
