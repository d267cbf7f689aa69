"""Where each evaluation dataset keeps its files, as released (``--eval-data DIR``).

One place for the layouts that ``recipes-finetune --eval-data``, the
``train_scripts/finetune-*.sh`` scripts and the main job (``recipes-main``) share:

* xnli: ``XNLI-MT-1.0/multinli/multinli.train.en.tsv``, ``XNLI-1.0/xnli.{dev,test}.tsv``;
* matis (MultiATIS++): ``{train,dev,test}_{LANG}.tsv``;
* wikiann (PAN-X): ``{lang}/{train,dev,test}``;
* udpos: a Universal Dependencies release (the paper's XTREME version: v2.5), every
  treebank of a language merged per split as XTREME merges them,
  ``*/{lang}_*-ud-{split}*.conllu`` (``eval/readers/udpos.py``); or XTREME's processed
  ``{train,dev,test}-{lang}.tsv`` (two columns, ``word<TAB>UPOS``);
* mtop: ``{lang}/{train,eval,test}.txt``;
* xsum: the raw release (``bbc-summary-data/`` and the 90-5-5 split file), or
  ``{train,val,test}.source/.target``, or a directory of extracted ``.data`` files (each
  serves every split: a smoke check only).

English trains and validates; every other language is tested zero-shot.
"""

import glob
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .. import paper
from ..errors import RecipesError
from ..evaluations import evaluation
from .readers.udpos import treebank_pattern

XSUM_SPLIT_FILE = "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"


@dataclass
class TaskFiles:
    """The files of one task: English train and validation, a test file per language,
    and the ``recipes-finetune`` options the layout needs."""

    train: str
    valid: str
    tests: Dict[str, str]
    options: List[str] = field(default_factory=list)

    def apply(self, args) -> None:
        """Set the layout's ``recipes-finetune`` options the command line left unset."""
        for option, value in zip(self.options[::2], self.options[1::2]):
            dest = option.lstrip("-").replace("-", "_")
            if getattr(args, dest, None) is None:
                setattr(args, dest, value)


def _udpos(root: str):
    if os.path.isfile(f"{root}/train-en.tsv"):  # XTREME's processed files
        return (
            f"{root}/train-en.tsv",
            f"{root}/dev-en.tsv",
            lambda lang: f"{root}/test-{lang}.tsv",
            ["--format", "two-column"],
        )
    return (
        treebank_pattern(root, "en", "train"),
        treebank_pattern(root, "en", "dev"),
        lambda lang: treebank_pattern(root, lang, "test"),
        [],
    )


def _paths(task: str, root: str):
    """(train, valid, test(lang), options) of ``task`` under ``root``."""
    if task == "xnli":
        xnli = f"{root}/XNLI-1.0"
        return (
            f"{root}/XNLI-MT-1.0/multinli/multinli.train.en.tsv",
            f"{xnli}/xnli.dev.tsv",
            lambda lang: f"{xnli}/xnli.test.tsv",
            [],
        )
    if task == "matis":
        return (
            f"{root}/train_EN.tsv",
            f"{root}/dev_EN.tsv",
            lambda lang: f"{root}/test_{lang.upper()}.tsv",
            [],
        )
    if task == "wikiann":
        return (
            f"{root}/en/train",
            f"{root}/en/dev",
            lambda lang: f"{root}/{lang}/test",
            [],
        )
    if task == "udpos":
        return _udpos(root)
    if task == "mtop":
        return (
            f"{root}/en/train.txt",
            f"{root}/en/eval.txt",
            lambda lang: f"{root}/{lang}/test.txt",
            [],
        )
    if task == "xsum":
        if os.path.isdir(f"{root}/bbc-summary-data"):
            release = f"{root}/bbc-summary-data"
            options = ["--xsum-split-file", f"{root}/{XSUM_SPLIT_FILE}"]
            return release, release, lambda lang: release, options
        if os.path.isfile(f"{root}/train.source"):
            return f"{root}/train", f"{root}/val", lambda lang: f"{root}/test", []
        return root, root, lambda lang: root, []
    raise RecipesError(f"--evaluation {task}: no known layout")


def file_exists(path) -> bool:
    """A file, a directory (XSUM releases), a ``.source``/``.target`` prefix, or a
    pattern that matches a file (a UD release's treebanks of one language)."""
    if not path:
        return False
    if set("*?[") & set(str(path)):
        return bool(glob.glob(str(path)))
    return os.path.exists(path) or os.path.isfile(f"{path}.source")


def default_langs(task: str) -> List[str]:
    """The paper's languages that the released dataset covers."""
    covered = evaluation(task).languages
    return [lang for lang in paper.LANGUAGES if covered is None or lang in covered]


def task_files(
    task: str, root, langs: Optional[Sequence[str]] = None, missing_ok: bool = False
) -> TaskFiles:
    """The files of ``task`` in ``root``. Without ``langs``, every default language that
    has a test file; a language asked for without one is an error unless ``missing_ok``
    (English always is: it is also the training language)."""
    root = str(root)
    if not os.path.isdir(root):
        raise RecipesError(f"--eval-data {root}: no such directory")
    train, valid, test, options = _paths(task, root)
    for path, what in [(train, "training"), (valid, "validation")]:
        if not file_exists(path):
            raise RecipesError(
                f"--eval-data {root}: no English {what} file of {task} "
                f"({path or 'nothing matches'})"
            )
    tests = {}
    for lang in langs or default_langs(task):
        path = test(lang)
        if file_exists(path):
            tests[lang] = path
        elif (langs and not missing_ok) or lang == "en":
            raise RecipesError(
                f"--eval-data {root}: no {lang} test file of {task} "
                f"({path or 'nothing matches'})"
            )
    return TaskFiles(train, valid, tests, options)
