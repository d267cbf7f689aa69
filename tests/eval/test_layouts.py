"""Where each released dataset keeps its files (eval/layouts.py), on the embedded data."""

import pytest

from fairseq_recipes.errors import RecipesError
from fairseq_recipes.eval.finetune import _read, build_parser
from fairseq_recipes.eval.layouts import task_files
from fairseq_recipes.evaluations import EVALUATIONS
from fairseq_recipes.toy.eval_sets import write_eval_data


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "data"
    write_eval_data(root, langs=("en", "de", "hi"), train=8, dev=4, test=4)
    return root


@pytest.mark.parametrize("task", list(EVALUATIONS))
def test_every_task_finds_its_files_and_they_read(eval_data, task):
    langs = ["en"] if task == "xsum" else ["en", "de", "hi"]
    files = task_files(task, eval_data / EVALUATIONS[task].dataset_dir, langs)
    assert list(files.tests) == langs
    args = build_parser().parse_args(
        [
            "--checkpoint",
            "x",
            "--evaluation",
            task,
            "--data",
            "x",
            "--output",
            "x",
            *files.options,
        ]
    )
    assert len(_read(args, files.train, "en", "train")) == 8
    for lang, path in files.tests.items():
        assert len(_read(args, path, lang, "test")) == 4


def test_missing_languages_are_skipped_by_default_or_errors_when_asked(eval_data):
    # wikiann covers any language: the paper's that have files
    assert list(task_files("wikiann", eval_data / "panx").tests) == ["de", "en", "hi"]
    with pytest.raises(RecipesError, match="no fr test file of wikiann"):
        task_files("wikiann", eval_data / "panx", ["en", "fr"])
    assert list(task_files("wikiann", eval_data / "panx", ["en", "fr"], True).tests) == [
        "en"
    ]


def test_a_directory_without_the_layout_is_a_one_line_error(tmp_path):
    with pytest.raises(RecipesError, match="no English training file of mtop"):
        task_files("mtop", tmp_path)
    with pytest.raises(RecipesError, match="no such directory"):
        task_files("mtop", tmp_path / "nothing")
