"""The main job's configuration: a TOML file, or the embedded toy default without one.

Settings are not invented here: each section passes its keys to the tool that already
defines them, and a key that tool does not know is an error naming the file and key.

* top level: ``work_dir``, ``jobs`` (runs at once), ``threads`` (per run), ``models``
  (Table 1 rows to train; default all of them), ``pretrain_seeds`` (pre-training runs
  per model, default 1: seed k trains with the train scripts' ``SEED`` + k - 1, each
  recipe from seed k's checkpoint of the stage it starts from, and is fine-tuned with
  every fine-tuning seed; seed k >= 2 writes under ``checkpoints/pretrain-seed<k>/`` and
  ``results/pretrain-seed<k>/``);
* ``[corpus]``: ``toy`` (build the embedded corpus, ``toy/corpus.py``) with its
  ``docs_per_lang``, ``langs`` and ``seed``, or ``input`` (a directory of
  ``{lang}.txt/.jsonl`` files), or ``data_bin`` (an existing ``recipes-preprocess``
  output: no preprocessing);
* ``[preprocess]``: ``recipes-preprocess`` options (``vocab_size = 2000`` is
  ``--vocab-size 2000``);
* ``[pretrain]``: the train scripts' environment variables (``script_settings.py``:
  ``SMOKE``, ``GPUS_PER_NODE``, ``NODES``, ``UPDATE_DIVISOR``, ``EMBED_DIM``, ...);
  ``[pretrain.<model>]`` overrides them for one model;
* ``[evaluate]``: ``evaluations``, ``seeds``, ``langs`` (test languages), and either ``toy``
  (generate the embedded evaluation data, ``toy/eval_sets.py``; ``toy_train``/``toy_dev``/
  ``toy_test`` examples per split) or ``data`` (``{task = "dir"}``: each dataset as
  released); ``[evaluate.finetune]``: ``recipes-finetune`` options for every task, and
  ``[evaluate.finetune.<task>]`` for one;
* ``[rehearsal]`` (``configs/rehearsal.toml``; absent otherwise): the paper's shapes on
  one machine, measured (``rehearsal.py``): ``resume`` (a model whose stage is killed
  once after its checkpoint at update ``resume_after_update``, then resumed by the same
  command), ``tidy`` (delete what no later stage reads), ``export`` (models exported to
  transformers and checked against fairseq's logits), ``mfu`` (the GPU bill's assumed
  model-FLOP utilisation).
"""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .. import paper, script_settings
from ..cost.gpus import DEFAULT_MFU
from ..errors import RecipesError
from ..evaluations import NAMES as EVALUATION_NAMES
from ..recipes import STAGES

ROOT = Path(__file__).resolve().parents[2]
#: train-script variables the main job sets itself
OWNED_ENV = {"DATA", "SAVE_DIR", "INIT", "PYTHON"}


@dataclass
class Rehearsal:
    """The ``[rehearsal]`` table (see ``rehearsal.py``)."""

    resume: str = ""  # a Table 1 model, "" for none
    resume_after_update: int = 0
    tidy: bool = True
    export: List[str] = field(default_factory=list)
    mfu: float = DEFAULT_MFU


@dataclass
class Config:
    source: str = "(embedded default)"  # the file it came from, for messages
    work_dir: str = "work"
    jobs: int = 2
    threads: int = 1
    models: List[str] = field(default_factory=lambda: list(STAGES))
    #: pre-training runs per model, recipes chained seed by seed (seed k: SEED + k - 1)
    pretrain_seeds: int = 1
    # [corpus]
    toy: bool = True
    input: str = ""
    data_bin: str = ""
    docs_per_lang: int = 300
    langs: List[str] = field(default_factory=lambda: toy_langs())
    corpus_seed: int = 1
    # [preprocess], [pretrain], [pretrain.<model>]
    preprocess: Dict[str, object] = field(default_factory=dict)
    pretrain: Dict[str, object] = field(default_factory=dict)
    pretrain_by_model: Dict[str, Dict[str, object]] = field(default_factory=dict)
    # [evaluate]
    evaluations: List[str] = field(default_factory=lambda: list(EVALUATION_NAMES))
    seeds: int = paper.FINETUNE_SEEDS
    eval_langs: List[str] = field(default_factory=list)  # default: corpus langs
    eval_toy: bool = True
    toy_train: int = 512
    toy_dev: int = 64
    toy_test: int = 64
    eval_data: Dict[str, str] = field(default_factory=dict)
    finetune: Dict[str, object] = field(default_factory=dict)
    finetune_by_task: Dict[str, Dict[str, object]] = field(default_factory=dict)
    rehearsal: Optional[Rehearsal] = None

    def path(self, value: str) -> Path:
        """A path of the configuration: relative ones are relative to the project root."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else ROOT / path

    @property
    def work(self) -> Path:
        return self.path(self.work_dir)

    def test_langs(self) -> List[str]:
        return self.eval_langs or self.langs

    def pretrain_env(self, model: str) -> Dict[str, str]:
        merged = {**self.pretrain, **self.pretrain_by_model.get(model, {})}
        return {k: _env_value(v) for k, v in merged.items()}

    def finetune_options(self, task: str) -> List[str]:
        merged = {**self.finetune, **self.finetune_by_task.get(task, {})}
        return as_options(merged, negatable={"freeze_embeddings"})


def _env_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def as_options(values: dict, negatable=frozenset()) -> List[str]:
    """``{"max_updates": 60, "cpu": True}`` -> ``["--max-updates", "60", "--cpu"]``; false
    is the flag's absence, or ``--no-FLAG`` for a ``negatable`` key (its default is not
    false)."""
    out = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False:
            if key in negatable:
                out.append("--no-" + flag[2:])
        elif isinstance(value, list):
            out += [flag, *map(str, value)]
        else:
            out += [flag, str(value)]
    return out


def script_variables() -> set:
    """The environment variables of the train scripts (``script_settings.py``)."""
    return set(script_settings.BY_NAME)


class _OptionError(Exception):
    pass


def _raising(parser):
    """``parser``, its errors raised as :class:`_OptionError` instead of exiting."""

    def error(message):
        raise _OptionError(message)

    parser.error = error
    return parser


def _long_options(parser, required: List[str]) -> Dict[str, bool]:
    """``{"max_updates": True, "cpu": False}``: every ``--long-option`` of ``parser`` (its
    destinations, as parsing ``required`` gives them) and whether it takes a value, as
    parsing the option alone shows (argparse's public behaviour, not its internals)."""
    parser = _raising(parser)
    out = {}
    for key in vars(parser.parse_args(required)):
        try:
            parser.parse_args(required + ["--" + key.replace("_", "-")])
            out[key] = False  # a flag
        except _OptionError as err:
            if "expected" in str(err):  # "expected one argument"
                out[key] = True
    return out


def _finetune_required(task: Optional[str]) -> List[str]:
    """recipes-finetune's required options, placeholders but the evaluation."""
    task = task or EVALUATION_NAMES[0]
    return ["--checkpoint", "-", "--evaluation", task, "--data", "-", "--output", "-"]


def _check_options(
    parser, values: dict, required: List[str], where: str, source: str, check_values=None
) -> None:
    """Parse ``values`` as the tool would (types and choices), then its own range
    checks (``check_values(args)``); one line naming ``{source}: {where}{key}``."""
    takes_values = _long_options(parser, required)
    for key, value in values.items():
        takes_value = takes_values[key]
        if not takes_value and not isinstance(value, bool):
            raise RecipesError(
                f"{source}: {where}{key}: expected true or false, got {value!r}"
            )
        if takes_value and isinstance(value, bool):
            raise RecipesError(f"{source}: {where}{key}: expected a value, got {value!r}")
    try:
        args = _raising(parser).parse_args(required + as_options(values))
    except _OptionError as err:
        found = re.search(r"argument --([\w-]+)", str(err))
        key = found.group(1).replace("-", "_") if found else "?"
        why = re.sub(r"^argument [^:]+: ", "", str(err))
        raise RecipesError(f"{source}: {where}{key}: {why}") from None
    if check_values is not None:
        try:
            check_values(args)
        except RecipesError as err:
            # the tools name their option (--vocab-size); the configuration names the key
            text = re.sub(
                r"--([a-z][\w-]*)",
                lambda m: m.group(1).replace("-", "_"),
                str(err),
                count=1,
            )
            raise RecipesError(f"{source}: {where}{text}") from None


class _Reader:
    """Takes typed values out of one TOML table; leftovers are errors."""

    def __init__(self, table: dict, where: str, source: str):
        self.table, self.where, self.source = dict(table), where, source

    def error(self, key, message):
        raise RecipesError(f"{self.source}: {self.where}{key}: {message}")

    def take(self, key, kind, default, low=None):
        """The value of ``key`` (``default`` when absent), of type ``kind``; numbers at
        least ``low``."""
        if key not in self.table:
            return default
        value = self.table.pop(key)
        ok = isinstance(value, kind) and not (
            isinstance(value, bool) and kind is not bool
        )
        if kind is list:
            ok = ok and all(isinstance(v, str) for v in value)
        if not ok:
            name = getattr(kind, "__name__", None) or "a number"
            self.error(key, f"expected {name}, got {value!r}")
        if low is not None and value < low:
            self.error(key, f"must be at least {low}, got {value!r}")
        return value

    def done(self, known: Optional[set] = None):
        for key in self.table:
            self.error(
                key,
                "unknown setting"
                + (f" (known: {', '.join(sorted(known))})" if known else ""),
            )


def _passthrough(table, where, source, known: set, forbidden=()) -> dict:
    out = {}
    for key, value in table.items():
        if key not in known or key in forbidden:
            why = "set by the main job" if key in forbidden else "unknown setting"
            raise RecipesError(f"{source}: {where}{key}: {why}")
        if isinstance(value, dict):
            raise RecipesError(f"{source}: {where}{key}: expected a value, got a table")
        out[key] = value
    return out


def from_dict(data: dict, source: str = "(embedded default)") -> Config:
    from ..eval.finetune import build_parser as finetune_parser
    from ..preprocessing.binarize import build_parser as preprocess_parser

    d = Config()
    top = _Reader(data, "", source)
    cfg = Config(
        source=source,
        work_dir=top.take("work_dir", str, d.work_dir),
        jobs=top.take("jobs", int, d.jobs, low=1),
        threads=top.take("threads", int, d.threads, low=1),
        models=top.take("models", list, d.models),
        pretrain_seeds=top.take("pretrain_seeds", int, d.pretrain_seeds, low=1),
    )
    for model in cfg.models:
        if model not in STAGES:
            top.error("models", f"unknown model {model!r} (Table 1: {', '.join(STAGES)})")

    corpus = _Reader(top.take("corpus", dict, {}), "corpus.", source)
    cfg.toy = corpus.take("toy", bool, d.toy)
    cfg.input = corpus.take("input", str, "")
    cfg.data_bin = corpus.take("data_bin", str, "")
    cfg.docs_per_lang = corpus.take("docs_per_lang", int, d.docs_per_lang, low=1)
    # the toy corpus's languages, or the paper's for real data
    cfg.langs = corpus.take("langs", list, [])
    cfg.corpus_seed = corpus.take("seed", int, d.corpus_seed, low=0)
    corpus.done()
    if cfg.input or cfg.data_bin:
        cfg.toy = False
    cfg.langs = cfg.langs or (toy_langs() if cfg.toy else list(paper.LANGUAGES))
    if not (cfg.toy or cfg.input or cfg.data_bin):
        corpus.error("toy", "false, but neither corpus.input nor corpus.data_bin is set")

    from ..preprocessing.binarize import check_values as check_preprocess

    preprocess_required = ["--input", "-", "--output", "-"]
    known = set(_long_options(preprocess_parser(), preprocess_required))
    known -= {"input", "output"}
    cfg.preprocess = _passthrough(
        top.take("preprocess", dict, {}), "preprocess.", source, known
    )
    _check_options(
        preprocess_parser(),
        cfg.preprocess,
        preprocess_required,
        "preprocess.",
        source,
        check_preprocess,
    )

    pretrain = dict(top.take("pretrain", dict, {}))
    for model in [k for k, v in pretrain.items() if isinstance(v, dict)]:
        if model not in STAGES:
            raise RecipesError(f"{source}: pretrain.{model}: not a Table 1 model")
        cfg.pretrain_by_model[model] = _passthrough(
            pretrain.pop(model),
            f"pretrain.{model}.",
            source,
            script_variables(),
            OWNED_ENV,
        )
    cfg.pretrain = _passthrough(
        pretrain, "pretrain.", source, script_variables(), OWNED_ENV
    )
    for model in [None, *cfg.pretrain_by_model]:
        where = f"{source}: pretrain.{model + '.' if model else ''}"
        values = {**cfg.pretrain, **cfg.pretrain_by_model.get(model, {})}
        for key, value in values.items():
            if not isinstance(value, (str, int, float, bool)):
                raise RecipesError(f"{where}{key}: expected a value, got {value!r}")
        script_settings.check({k: _env_value(v) for k, v in values.items()}, where)

    ev = _Reader(top.take("evaluate", dict, {}), "evaluate.", source)
    cfg.evaluations = ev.take("evaluations", list, d.evaluations)
    for task in cfg.evaluations:
        if task not in EVALUATION_NAMES:
            ev.error(
                "evaluations",
                f"unknown evaluation {task!r} (known: {', '.join(EVALUATION_NAMES)})",
            )
    cfg.seeds = ev.take("seeds", int, d.seeds, low=1)
    cfg.eval_langs = ev.take("langs", list, [])
    cfg.eval_toy = ev.take("toy", bool, d.eval_toy)
    for key in ("toy_train", "toy_dev", "toy_test"):
        setattr(cfg, key, ev.take(key, int, getattr(d, key), low=1))
    cfg.eval_data = ev.take("data", dict, {})
    for task, path in cfg.eval_data.items():
        if task not in EVALUATION_NAMES or not isinstance(path, str):
            ev.error(f"data.{task}", 'expected TASK = "directory" for a known task')
    if cfg.eval_data:
        cfg.eval_toy = False
        missing = [t for t in cfg.evaluations if t not in cfg.eval_data]
        if missing:
            ev.error("data", f"no directory for task(s) {', '.join(missing)}")
    finetune = dict(ev.take("finetune", dict, {}))
    known = set(_long_options(finetune_parser(), _finetune_required(None))) - {
        "checkpoint",
        "task",
        "data",
        "output",
        "seeds",
        "eval_data",
    }
    for task in [k for k, v in finetune.items() if isinstance(v, dict)]:
        if task not in EVALUATION_NAMES:
            raise RecipesError(f"{source}: evaluate.finetune.{task}: not a task")
        cfg.finetune_by_task[task] = _passthrough(
            finetune.pop(task), f"evaluate.finetune.{task}.", source, known
        )
    cfg.finetune = _passthrough(finetune, "evaluate.finetune.", source, known)
    from ..eval.finetune import check_values as check_finetune

    # the shared table first, so that an error names the table that holds the key
    for task in [None, *cfg.finetune_by_task]:
        values = {**cfg.finetune, **cfg.finetune_by_task.get(task, {})}
        where = f"evaluate.finetune.{task + '.' if task else ''}"
        required = _finetune_required(task)
        _check_options(finetune_parser(), values, required, where, source, check_finetune)
    ev.done()
    if "rehearsal" in top.table:
        cfg.rehearsal = _rehearsal(cfg, top.take("rehearsal", dict, {}), source)
        if cfg.pretrain_seeds > 1:
            top.error("pretrain_seeds", "the rehearsal runs one pre-training seed")
    top.done()
    return cfg


def _rehearsal(cfg: Config, table: dict, source: str) -> Rehearsal:
    d, r = Rehearsal(), _Reader(table, "rehearsal.", source)
    out = Rehearsal(
        resume=r.take("resume", str, d.resume),
        resume_after_update=r.take("resume_after_update", int, d.resume_after_update),
        tidy=r.take("tidy", bool, d.tidy),
        export=r.take("export", list, d.export),
        mfu=r.take("mfu", (int, float), d.mfu),
    )
    r.done()
    if not 0 < out.mfu <= 1:
        r.error("mfu", f"{out.mfu}: a model-FLOP utilisation in (0, 1]")
    if out.resume:
        if out.resume not in cfg.models:
            r.error("resume", f"{out.resume!r} is not one of the models trained")
        if out.resume_after_update < 1:
            r.error(
                "resume_after_update", "must be at least 1 (the update to stop after)"
            )
        interval = cfg.pretrain_env(out.resume).get("SAVE_INTERVAL")
        if interval is None or out.resume_after_update % int(interval) != 0:
            r.error(
                "resume_after_update",
                f"{out.resume_after_update} is not an update {out.resume} saves a "
                f"checkpoint at (set pretrain.{out.resume}.SAVE_INTERVAL to it)",
            )
    for model in out.export:
        if model not in cfg.models:
            r.error("export", f"{model!r} is not one of the models trained")
        if STAGES[model].cross_attention == "fusion":
            r.error("export", f"{model!r}: attention fusion has no transformers class")
    return out


def load(path: Optional[str]) -> Config:
    """The configuration in ``path`` (TOML), or the embedded toy default."""
    if path is None:
        return from_dict(default_toy(), "(embedded default)")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as err:
        raise RecipesError(f"--config {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise RecipesError(f"--config {path}: not valid TOML ({err})") from None
    base = default_toy() if data.pop("extends_toy", False) else {}
    return from_dict(_merge(base, data), str(path))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def default_toy() -> dict:
    """The embedded default (``configs/toy.toml`` spells it out)."""
    with open(ROOT / "configs" / "toy.toml", "rb") as f:
        return tomllib.load(f)


def toy_langs() -> List[str]:
    """The toy corpus's languages, as the embedded default lists them (the toy world's
    own, ``toy/lexicon.py``; the main job reads the toy world only through its
    commands)."""
    return list(default_toy()["corpus"]["langs"])
