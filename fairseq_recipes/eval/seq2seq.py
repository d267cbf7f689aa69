"""The seq2seq half of ``recipes-finetune``: mTOP and XSUM (paper: Table 3).

A seed's run fine-tunes the whole model (``--arch recipes_seq2seq --seq2seq-from``) with
the paper's settings: AdamW (0.9, 0.99), weight decay 0.1, dropout 0.1, learning rate
warming up exponentially from 1e-7 to 5e-6 over 1000 updates then decaying linearly to
1e-7 at the 50k max updates (``recipes_exponential_warmup``), 32 examples per batch,
training stopping at the first of 200 epochs and 50k updates (``paper.FINETUNE``'s rule),
the embeddings trained unless ``--freeze-embeddings``
(``paper.FINETUNE_FREEZE_EMBEDDINGS``). mTOP keeps the checkpoint with the best validation SCIEM (generated with beam 3 at
each validation), XSUM the one with the best validation perplexity. Each test file is then
decoded by ``fairseq-generate`` with beam 3 and scored against the file's own references:
SCIEM per language (mTOP), ROUGE-1/2/L (XSUM). An mTOP hypothesis in the sentinel format
is read in its pointer form (``--keep-sentinels``, H- lines) and each sentinel becomes the
file's own word, exactly: as ids spell them, words can differ from the file's
(SentencePiece's normalization, characters its model lacks).
"""

import math
import re
from pathlib import Path

from .. import paper
from ..errors import RecipesError
from ..evaluations import evaluation, optimizer_args
from ..scoring.rouge import rouge, rouge_per_pair
from ..scoring.sciem import exact_match, sciem
from . import in_process, intervals

PLUGIN = Path(__file__).resolve().parents[1]


def settings(args) -> dict:
    out = evaluation(args.evaluation).settings()
    out.update({k: getattr(args, k) for k in out if getattr(args, k) is not None})
    return out


def task_args(args) -> list:
    """What both fairseq-train and fairseq-generate need to build the task."""
    out = [
        "--task",
        evaluation(args.evaluation).fairseq_task,
        "--train-file",
        args.train,
        "--max-source-tokens",
        args.max_source_tokens,
        "--max-target-tokens",
        args.max_target_tokens,
    ]
    for option in evaluation(args.evaluation).task_options:
        value = getattr(args, option[2:].replace("-", "_"))
        if value:
            out += [option, value]
    return out


def freeze_embeddings(args) -> bool:
    """--[no-]freeze-embeddings, else the paper's reading for the task."""
    chosen = getattr(args, "freeze_embeddings", None)
    return evaluation(args.evaluation).freeze_embeddings if chosen is None else chosen


def note_early_stop(task: str, s: dict, n_train: int) -> None:
    """Say so when the epochs end training before the learning rate's decay ends (the
    rule of paper.FINETUNE: the decay ends at the max updates)."""
    updates = s["epochs"] * math.ceil(n_train / s["batch_size"])
    if updates < s["max_updates"]:
        print(
            f"{task}: {s['epochs']} epochs of {n_train:,} examples end training at "
            f"update {updates:,}, before the learning rate's decay ends at "
            f"{s['max_updates']:,}",
            flush=True,
        )


def train_args(args, seed: int, run_dir: Path, n_train: int) -> list:
    row, s = evaluation(args.evaluation), settings(args)
    # the decay's end (paper.FINETUNE's rule); --max-epoch may stop training first
    total = s["max_updates"]
    note_early_stop(args.evaluation, s, n_train)
    out = [
        args.data,
        "--user-dir",
        PLUGIN,
        *task_args(args),
        "--valid-file",
        args.valid,
        "--arch",
        "recipes_seq2seq",
        "--seq2seq-from",
        args.checkpoint,
        "--criterion",
        row.criterion,
        *optimizer_args(),
        "--lr-scheduler",
        "recipes_exponential_warmup",
        "--lr",
        s["peak_lr"],
        "--warmup-updates",
        min(s["warmup_updates"], total - 1),  # decay needs one
        "--warmup-init-lr",
        min(paper.SEQ2SEQ_FINETUNE_INIT_LR, s["peak_lr"]),
        "--end-learning-rate",
        min(paper.SEQ2SEQ_FINETUNE_END_LR, s["peak_lr"]),
        "--total-num-update",
        total,
        "--max-update",
        total,
        "--max-epoch",
        s["epochs"],
        "--batch-size",
        s["batch_size"],
        "--required-batch-size-multiple",
        1,
        "--save-dir",
        run_dir / "checkpoints",
        "--no-epoch-checkpoints",
        "--best-checkpoint-metric",
        row.valid_metric,
        "--seed",
        seed,
        "--log-format",
        "simple",
        "--log-interval",
        args.log_interval,
    ]
    if row.maximize:
        out += ["--maximize-best-checkpoint-metric"]
    if freeze_embeddings(args):
        out += ["--freeze-embeddings"]
    if row.validate_by_generation:
        out += ["--validate-by-generation", "--eval-beam", paper.SEQ2SEQ_FINETUNE_BEAM]
    if args.cpu:
        out += ["--cpu"]
    from .finetune import checkpoint_args

    out += checkpoint_args(args)
    return [str(a) for a in out] + list(args.fairseq_args)


def generated(output: str, kind: str = "D") -> dict:
    """{example id: hypothesis} of fairseq-generate's D- lines (the hypothesis as text)
    or H- lines (``kind="H"``: its pieces), the best beam's."""
    line_of = re.compile(rf"^{kind}-(\d+)\t[^\t]*\t(.*)$")
    found = {}
    for line in output.splitlines():
        match = line_of.match(line)
        if match:  # lines of further beams (--nbest) follow the best
            found.setdefault(int(match.group(1)), match.group(2))
    return found


def pointers(args) -> bool:
    """Whether hypotheses are read in the pointer form (mTOP's sentinel format)."""
    options = evaluation(args.evaluation).task_options
    return "--target-format" in options and args.target_format == "sentinels"


def pointed_forms(args):
    """``form(pieces, example)``: the logical form of an H- line's pieces, each sentinel
    replaced by the example's own word."""
    from ..tasks.semantic_parsing import SemanticParsingConfig, SemanticParsingTask

    task = SemanticParsingTask.setup_task(
        SemanticParsingConfig(data=str(args.data), target_format="sentinels")
    )
    d = task.dictionary
    return lambda pieces, example: task.scored_text(
        [d.index(symbol) for symbol in pieces.split()], None, words=example.words
    )


def _parse_scores(examples, predicted):
    references = [e.logical_form for e in examples]
    matches = [exact_match(r, h) for r, h in zip(references, predicted)]
    scores = {"sciem": sciem(references, predicted)}
    return references, scores, {"sciem": intervals.mean_parts(matches)}


def _summary_scores(examples, predicted):
    references = [e.summary for e in examples]
    per_pair = rouge_per_pair(references, predicted)
    parts = {k: intervals.mean_parts(v) for k, v in per_pair.items()}
    return references, rouge(references, predicted), parts


#: an evaluation's scorer (its fairseq-generate --scoring) -> the references, metrics and
#: per-example parts (the intervals' input) of a test file's hypotheses
SCORES = {"recipes_sciem": _parse_scores, "recipes_rouge": _summary_scores}


def decode(args, checkpoint: Path, lang: str, path: str, run_dir: Path) -> dict:
    argv = [
        args.data,
        "--user-dir",
        PLUGIN,
        *task_args(args),
        "--test-file",
        path,
        "--gen-subset",
        f"test.{lang}",
        "--path",
        checkpoint,
        "--beam",
        paper.SEQ2SEQ_FINETUNE_BEAM,
        "--batch-size",
        args.generate_batch_size,
        # targets were cut there in training: longer hypotheses cannot be better
        "--max-len-a",
        0,
        "--max-len-b",
        args.max_target_tokens,
        "--required-batch-size-multiple",
        1,
    ]
    if pointers(args):  # fairseq's scorer would see pointers, not forms: none here
        argv += ["--keep-sentinels"]
    else:
        argv += ["--scoring", evaluation(args.evaluation).scorer]
    if args.cpu:
        argv += ["--cpu"]
    try:
        output = in_process.generate(
            argv, run_dir / f"generate-{lang}.txt", run_dir / f"generate-{lang}.log"
        )
    except RecipesError as err:
        raise RecipesError(f"{path}: {err}") from None
    return generated(output, "H" if pointers(args) else "D")


def evaluate(args, checkpoint: Path, tests: dict, run_dir: Path, read, write) -> dict:
    """Decode and score every test file; ``read(path, lang)`` gives its examples and
    ``write(path, rows)`` saves the predictions."""
    (run_dir / "predictions").mkdir(exist_ok=True)
    form = pointed_forms(args) if pointers(args) else None
    metrics, parts = {}, {}
    for lang, path in tests.items():
        examples = read(path, lang)
        hypotheses = decode(args, checkpoint, lang, path, run_dir)
        if len(hypotheses) != len(examples):
            raise RecipesError(
                f"{path}: {len(examples)} examples but fairseq-generate decoded "
                f"{len(hypotheses)}"
            )
        predicted = [hypotheses[i] for i in range(len(examples))]
        if form is not None:
            predicted = [form(p, e) for p, e in zip(predicted, examples)]
        references, metrics[lang], parts[lang] = SCORES[
            evaluation(args.evaluation).scorer
        ](examples, predicted)
        write(run_dir / "predictions" / f"{lang}.tsv", zip(references, predicted))
    return intervals.metrics_record(
        args.evaluation, evaluation(args.evaluation).main_metric, metrics, parts
    )
