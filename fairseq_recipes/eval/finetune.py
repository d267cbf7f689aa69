"""``recipes-finetune``: fine-tune a model on one task and test it on every language.

    recipes-finetune --checkpoint checkpoints/roberta-12e/checkpoint_last.pt \\
        --evaluation wikiann --data data-bin --train panx/en/train --valid panx/en/dev \\
        --test en=panx/en/test de=panx/de/test ... --output results/roberta-12e/wikiann
    recipes-finetune --checkpoint checkpoints/bart-12e12d/checkpoint_last.pt --evaluation mtop \\
        --data data-bin --train mtop/en/train.txt --valid mtop/en/eval.txt \\
        --test en=mtop/en/test.txt de=mtop/de/test.txt ... --output results/bart-12e12d/mtop

Each seed (``--seeds 3``: seeds 1, 2, 3) is its own ``fairseq-train`` run (inside this
process, ``in_process.py``; log in ``OUTPUT/seed{n}/train.log``) in ``OUTPUT/seed{n}/``
with the paper's settings (``paper.FINETUNE``; English training and
validation, the checkpoint with the best English validation metric kept), then every test
file is predicted (whole sentences, pieces put back together) into
``OUTPUT/seed{n}/predictions/{lang}.tsv`` and scored into ``OUTPUT/seed{n}/metrics.json``.
A seed whose ``metrics.json`` exists is not recomputed. An encoder task (xnli, matis,
wikiann, udpos) takes the encoder of any checkpoint of the project
(``recipes_encoder_heads --encoder-from``); a seq2seq task (mtop, xsum) any seq2seq
checkpoint, decoded by fairseq-generate (``eval/seq2seq.py``). ``--eval-data DIR`` finds
the files of a dataset as released (``layouts.py``).
"""

import argparse
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import paper
from ..atomic_files import atomic_write, write_text
from ..cli import command
from ..errors import RecipesError
from ..evaluations import ENCODER, NAMES, SEQ2SEQ, evaluation, optimizer_args
from . import in_process, intervals, seq2seq
from .layouts import file_exists, task_files
from .predict import predict, score, score_parts

PLUGIN = Path(__file__).resolve().parents[1]


def _tests(items):
    tests = {}
    for item in items:
        lang, eq, path = item.partition("=")
        if not eq or not lang or not path:
            raise RecipesError(f"--test {item}: expected LANG=FILE")
        if not file_exists(path):
            raise RecipesError(f"--test {item}: {path}: no such file")
        tests[lang] = path
    return tests


def train_args(args, seed: int, run_dir: Path, n_train: int) -> list:
    row, settings = evaluation(args.evaluation), evaluation(args.evaluation).settings()
    for key in ("peak_lr", "warmup_updates", "batch_size", "epochs", "max_updates"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    total = settings["max_updates"]  # the decay's end; --max-epoch may stop it first
    seq2seq.note_early_stop(args.evaluation, settings, n_train)
    out = [
        args.data,
        "--user-dir",
        PLUGIN,
        "--task",
        row.fairseq_task,
        "--criterion",
        row.criterion,
        "--arch",
        "recipes_encoder_heads",
        "--encoder-from",
        args.checkpoint,
        "--train-file",
        args.train,
        "--valid-file",
        args.valid,
        *optimizer_args(),
        "--lr-scheduler",
        "polynomial_decay",
        "--lr",
        settings["peak_lr"],
        "--warmup-updates",
        min(settings["warmup_updates"], total),
        "--end-learning-rate",
        0,
        "--power",
        1,
        "--total-num-update",
        total,
        "--max-update",
        total,
        "--max-epoch",
        settings["epochs"],
        "--batch-size",
        settings["batch_size"],
        "--required-batch-size-multiple",
        1,
        "--save-dir",
        run_dir / "checkpoints",
        "--no-epoch-checkpoints",
        "--best-checkpoint-metric",
        row.valid_metric,
        "--maximize-best-checkpoint-metric",
        "--seed",
        seed,
        "--log-format",
        "simple",
        "--log-interval",
        args.log_interval,
        "--max-piece-tokens",
        args.max_piece_tokens,
    ]
    if seq2seq.freeze_embeddings(args):
        out += ["--freeze-embeddings"]
    if row.data_format:
        out += ["--data-format", args.format or row.data_format]
    if args.map_unknown_labels_to:
        out += ["--map-unknown-labels-to", args.map_unknown_labels_to]
    if args.cpu:
        out += ["--cpu"]
    out += checkpoint_args(args)
    return [str(a) for a in out] + list(args.fairseq_args)


def _write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2))


def _write_rows(path: Path, rows) -> None:
    """Seq2seq predictions: reference, hypothesis per line (tabs and newlines as spaces)."""
    with atomic_write(path) as f:
        for row in rows:
            f.write("\t".join(" ".join(str(x).split()) for x in row) + "\n")


def _write_predictions(path: Path, examples, predictions) -> None:
    with atomic_write(path) as f:
        for example, predicted in zip(examples, predictions):
            f.write(example.prediction_lines(predicted))


def evaluate(checkpoint: Path, tests: dict, run_dir: Path, task_name: str) -> dict:
    """Predict and score every test file with the fine-tuned ``checkpoint``."""
    from fairseq import checkpoint_utils

    (model,), cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    (run_dir / "predictions").mkdir(exist_ok=True)
    metrics, parts = {}, {}
    for lang, path in tests.items():
        examples = task.checked(task.read(cfg.task, path, lang=lang))
        predictions = predict(task, model, examples)
        _write_predictions(run_dir / "predictions" / f"{lang}.tsv", examples, predictions)
        metrics[lang] = score(examples, predictions)
        parts[lang] = score_parts(examples, predictions)
    return intervals.metrics_record(
        task_name, evaluation(task_name).main_metric, metrics, parts
    )


def _task_class(args):
    from fairseq.tasks import TASK_REGISTRY

    return TASK_REGISTRY[evaluation(args.evaluation).fairseq_task]


def _read(args, path, lang, split):
    """The examples of a file, read as the task reads them."""
    cfg = argparse.Namespace(
        lang=lang,
        data_format=args.format or evaluation(args.evaluation).data_format,
        xsum_split_file=args.xsum_split_file,
    )
    return WAYS[evaluation(args.evaluation).kind].read(
        _task_class(args), cfg, path, lang, split
    )


def check_files(args, tests: dict) -> int:
    """Read every file the runs need, test files included, before any training: a
    malformed or empty file, or a test label training lacks, is found now rather than
    after hours of fine-tuning. Returns the number of training examples."""
    from .readers.examples import check_labels, labels_of

    train = _read(args, args.train, "en", "train")
    if not train:
        raise RecipesError(f"--train {args.train}: no examples")
    checks_labels = WAYS[evaluation(args.evaluation).kind].checks_labels
    files = [("--valid", "en", args.valid, "valid")]
    files += [("--test", lang, path, "test") for lang, path in tests.items()]
    for option, lang, path, split in files:
        examples = _read(args, path, lang, split)
        if not examples:
            raise RecipesError(f"{option} {path}: no examples (language {lang})")
        if checks_labels:
            check_labels(labels_of(train), examples, args.map_unknown_labels_to)
    return len(train)


def _evaluate_encoder(args, best: Path, tests: dict, run_dir: Path) -> dict:
    return evaluate(best, tests, run_dir, args.evaluation)


def _evaluate_seq2seq(args, best: Path, tests: dict, run_dir: Path) -> dict:
    read = lambda path, lang: _read(args, path, lang, "test")  # noqa: E731
    return seq2seq.evaluate(args, best, tests, run_dir, read, _write_rows)


@dataclass(frozen=True)
class Way:
    """How one kind of evaluation (``evaluations.ENCODER``, ``SEQ2SEQ``) trains and
    scores."""

    #: (args, seed, run_dir, n_train) -> fairseq-train's arguments
    train_args: Callable[..., list]
    #: (args, best checkpoint, tests, run_dir) -> the metrics record
    evaluate: Callable[..., dict]
    #: whether every test label must be one training has (classes, tags; not text)
    checks_labels: bool
    #: (fairseq task class, cfg, path, lang, split) -> the file's examples, as the task
    #: reads them (a seq2seq reader knows the language and split: XSUM's release
    #: serves every split from one directory)
    read: Callable[..., list]


WAYS = {
    ENCODER: Way(
        train_args,
        _evaluate_encoder,
        checks_labels=True,
        read=lambda task, cfg, path, lang, split: task.read(cfg, path),
    ),
    SEQ2SEQ: Way(
        seq2seq.train_args,
        _evaluate_seq2seq,
        checks_labels=False,
        read=lambda task, cfg, path, lang, split: task.read(cfg, path, lang, split=split),
    ),
}


def run_seed(args, seed: int, tests: dict, n_train: int) -> dict:
    run_dir = Path(args.output) / f"seed{seed}"
    done = run_dir / "metrics.json"
    if done.is_file():
        print(f"seed {seed}: {done} exists, reused", flush=True)
        return json.loads(done.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    way = WAYS[evaluation(args.evaluation).kind]
    print(f"seed {seed}: fine-tuning, log in {run_dir / 'train.log'}", flush=True)
    try:
        in_process.train(
            way.train_args(args, seed, run_dir, n_train), run_dir / "train.log"
        )
    except RecipesError as err:
        raise RecipesError(f"seed {seed}: {err}") from None
    result = way.evaluate(
        args, run_dir / "checkpoints" / "checkpoint_best.pt", tests, run_dir
    )
    result.update(seed=seed, model=str(args.checkpoint))
    _write_json(done, result)
    if args.discard_checkpoints:  # nothing reads them once the metrics are written
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return result


def checkpoint_args(args) -> list:
    """fairseq-train options of what a seed saves: everything, or with
    ``--discard-checkpoints`` only the best model's weights (no checkpoint_last.pt, no
    optimizer state: a third of the size, and a killed seed starts again)."""
    if args.discard_checkpoints:
        return ["--no-last-checkpoints", "--no-save-optimizer-state"]
    return []


#: option -> smallest valid value (None: the option may be left unset)
_AT_LEAST = {
    "seeds": 1,
    "batch_size": 1,
    "epochs": 1,
    "max_updates": 1,
    "warmup_updates": 0,
    "max_piece_tokens": 8,
    "max_source_tokens": 8,
    "max_target_tokens": 2,
    "generate_batch_size": 1,
    "log_interval": 1,
}


def check_values(args) -> None:
    """Option values that would run nothing, or fail hours later, are refused first."""
    for name, low in _AT_LEAST.items():
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise RecipesError(
                f"--{name.replace('_', '-')} {value}: must be at least {low}"
            )
    if args.peak_lr is not None and not (
        math.isfinite(args.peak_lr) and args.peak_lr > 0
    ):
        raise RecipesError(f"--peak-lr {args.peak_lr}: must be a number > 0")


def run(args) -> list:
    """Every seed's results; a :class:`RecipesError` for bad arguments or a failed run."""
    check_values(args)
    if args.eval_data:
        files = task_files(args.evaluation, args.eval_data, args.langs)
        args.train = args.train or files.train
        args.valid = args.valid or files.valid
        args.test = args.test or [f"{lang}={path}" for lang, path in files.tests.items()]
        files.apply(args)  # the layout's options: --xsum-split-file, --format
    for path, option in [
        (args.checkpoint, "--checkpoint"),
        (args.train, "--train"),
        (args.valid, "--valid"),
    ]:
        if not path:
            raise RecipesError(f"{option} is required (or --eval-data)")
        if not file_exists(path):
            raise RecipesError(f"{option} {path}: no such file")
    tests = _tests(args.test)
    n_train = check_files(args, tests)
    return [run_seed(args, seed, tests, n_train) for seed in range(1, args.seeds + 1)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recipes-finetune", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="checkpoint to fine-tune: its encoder (xnli, matis, wikiann, udpos) or the "
        "seq2seq model (mtop, xsum)",
    )
    parser.add_argument(
        "--evaluation",
        required=True,
        choices=NAMES,
        help="which of the paper's evaluations (evaluations.py)",
    )
    parser.add_argument(
        "--data", required=True, help="pre-training data directory (dict.txt, spm.model)"
    )
    parser.add_argument(
        "--eval-data",
        help="the dataset as released (eval/layouts.py): --train, --valid and --test "
        "default to its files",
    )
    parser.add_argument(
        "--langs",
        nargs="+",
        help="with --eval-data: test languages (default: the "
        "paper's languages the dataset has)",
    )
    parser.add_argument("--train", help="English training file (XSUM: or directory)")
    parser.add_argument("--valid", help="English validation file")
    parser.add_argument("--test", nargs="+", default=[], metavar="LANG=FILE")
    parser.add_argument("--output", required=True, help="directory of the runs")
    parser.add_argument(
        "--seeds",
        type=int,
        default=paper.FINETUNE_SEEDS,
        help="runs, seeds 1..N (default: the paper's, %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=["panx", "conllu", "two-column"],
        help="word tagging files (default: panx for wikiann, conllu for udpos)",
    )
    parser.add_argument(
        "--map-unknown-labels-to", help="e.g. O: map labels training lacks"
    )
    parser.add_argument("--max-piece-tokens", type=int, default=paper.TOKENS_PER_SAMPLE)
    parser.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        help="keep the token and position embeddings fixed (default: the paper's "
        "reading, paper.FINETUNE_FREEZE_EMBEDDINGS: frozen for the encoder tasks, not "
        "for mtop and xsum)",
    )
    s2s = parser.add_argument_group("seq2seq tasks (mtop, xsum)")
    s2s.add_argument("--max-source-tokens", type=int, default=paper.TOKENS_PER_SAMPLE)
    s2s.add_argument("--max-target-tokens", type=int, default=paper.TOKENS_PER_SAMPLE)
    s2s.add_argument(
        "--target-format",
        choices=["sentinels", "words"],
        default="sentinels",
        help="mtop: targets point at input words through word sentinels, or spell them",
    )
    s2s.add_argument(
        "--xsum-split-file",
        help="XSUM raw release: XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json",
    )
    s2s.add_argument("--generate-batch-size", type=int, default=32)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument(
        "--discard-checkpoints",
        action="store_true",
        help="save only the best model's weights and delete them once the seed's "
        "metrics.json is written (rehearsals, sweeps: nothing reads them afterwards)",
    )
    parser.add_argument("--log-interval", type=int, default=100)
    over = parser.add_argument_group("overrides of the paper's settings (paper.FINETUNE)")
    over.add_argument("--peak-lr", type=float)
    over.add_argument("--warmup-updates", type=int)
    over.add_argument("--batch-size", type=int)
    over.add_argument("--epochs", type=int)
    over.add_argument("--max-updates", type=int)
    parser.add_argument(
        "fairseq_args", nargs="*", help="after --: more fairseq-train options"
    )
    return parser


@command
def cli_main(argv=None):
    args = build_parser().parse_args(argv)
    import fairseq_recipes  # noqa: F401  (plugin: checkpoints, tasks, models)

    results = run(args)
    for r in results:
        avg = "-" if r["avg_0s"] is None else f"{r['avg_0s']:.2f}"
        en = "-" if r["en"] is None else f"{r['en']:.2f}"
        print(f"seed {r['seed']}: {r['metric']} en {en}, avg-0s {avg}")


if __name__ == "__main__":
    cli_main()
