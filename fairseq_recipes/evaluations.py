"""The paper's six fine-tuning evaluations (Tables 2 and 3) as data, the way ``recipes.py``
holds Table 1: one frozen row per evaluation, read by ``recipes-finetune``
(``eval/finetune.py``, ``eval/seq2seq.py``), the dataset layouts (``eval/layouts.py``),
the main job (``pipeline/``), the report (``eval/report.py``) and the embedded
evaluation sets (``toy/eval_sets.py``). The paper's settings stay in ``paper.py``; a row
names them.

An evaluation is of one of two kinds, each trained and scored one way:

* ``ENCODER``: the pre-trained encoder with a task head (``recipes_encoder_heads``),
  predictions on whole examples scored in Python (``eval/predict.py``);
* ``SEQ2SEQ``: the whole seq2seq model (``recipes_seq2seq``), test files decoded by
  ``fairseq-generate`` with the evaluation's scorer.

A seventh evaluation is one row here, one reader in ``eval/readers/`` and one fairseq
task in ``tasks/`` (docs/internals.md lists the files).
"""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from . import paper
from .errors import RecipesError
from .eval.readers.udpos import XTREME_LANGUAGES as UDPOS_LANGUAGES

ENCODER = "encoder"
SEQ2SEQ = "seq2seq"


@dataclass(frozen=True)
class Evaluation:
    name: str  # recipes-finetune --task, the report's column, the results directory
    kind: str  # ENCODER or SEQ2SEQ
    fairseq_task: str
    criterion: str
    valid_metric: str  # fairseq's --best-checkpoint-metric
    maximize: bool  # whether a higher valid_metric is better
    main_metric: str  # of avg-0s and the report's first column
    dataset_dir: str  # the embedded set's directory (toy/eval_sets.py)
    #: languages the released dataset covers (None: any it has files for)
    languages: Optional[Tuple[str, ...]]
    data_format: Optional[str] = None  # the fairseq task's --data-format, if it has one
    scorer: Optional[str] = None  # fairseq-generate's --scoring (SEQ2SEQ)
    #: validate by decoding with the paper's beam (mTOP: SCIEM), not by the loss
    validate_by_generation: bool = False
    #: the metrics the report's tables show, as the paper's tables do (default: main)
    reported_metrics: Tuple[str, ...] = ()
    #: recipes-finetune options passed on to the fairseq task when set (SEQ2SEQ)
    task_options: Tuple[str, ...] = ()

    def __post_init__(self):
        if not self.reported_metrics:
            object.__setattr__(self, "reported_metrics", (self.main_metric,))

    @property
    def multilingual(self) -> bool:
        """Whether it is tested zero-shot in other languages than English."""
        return self.languages != ("en",)

    @property
    def seq2seq(self) -> bool:
        return self.kind == SEQ2SEQ

    @property
    def freeze_embeddings(self) -> bool:
        """The paper's reading (``paper.FINETUNE_FREEZE_EMBEDDINGS``)."""
        return paper.FINETUNE_FREEZE_EMBEDDINGS[self.name]

    def settings(self) -> dict:
        """The paper's learning rate, warmup, batch, epochs and max updates."""
        if self.seq2seq:
            return dict(
                peak_lr=paper.SEQ2SEQ_FINETUNE_PEAK_LR,
                warmup_updates=paper.SEQ2SEQ_FINETUNE_WARMUP_UPDATES,
                batch_size=paper.SEQ2SEQ_FINETUNE_BATCH_SIZE,
                epochs=paper.SEQ2SEQ_FINETUNE_MAX_EPOCHS,
                max_updates=paper.SEQ2SEQ_FINETUNE_MAX_UPDATES,
            )
        return dict(paper.FINETUNE[self.name])


def _langs(text: str) -> Tuple[str, ...]:
    return tuple(text.split())


_ROWS = (
    Evaluation(
        name="xnli",
        kind=ENCODER,
        fairseq_task="recipes_sentence_pair",
        criterion="recipes_sentence_classification",
        valid_metric="accuracy",
        maximize=True,
        main_metric="accuracy",
        dataset_dir="xnli",
        languages=_langs("ar bg de el en es fr hi ru sw th tr ur vi zh"),
    ),
    Evaluation(
        name="matis",
        kind=ENCODER,
        fairseq_task="recipes_intent_slots",
        criterion="recipes_intent_slots",
        valid_metric="slot_f1",
        maximize=True,
        main_metric="slot_f1",
        dataset_dir="matis",
        languages=_langs("de en es fr hi ja pt tr zh"),
        reported_metrics=("intent_accuracy", "slot_f1"),
    ),
    Evaluation(
        name="wikiann",
        kind=ENCODER,
        fairseq_task="recipes_word_tagging",
        criterion="recipes_word_tagging",
        valid_metric="f1",
        maximize=True,
        main_metric="f1",
        dataset_dir="panx",
        languages=None,
        data_format="panx",
    ),
    Evaluation(
        name="udpos",
        kind=ENCODER,
        fairseq_task="recipes_word_tagging",
        criterion="recipes_word_tagging",
        valid_metric="f1",
        maximize=True,
        main_metric="f1",
        dataset_dir="ud",
        languages=UDPOS_LANGUAGES,
        data_format="conllu",
    ),
    Evaluation(
        name="mtop",
        kind=SEQ2SEQ,
        fairseq_task="recipes_semantic_parsing",
        criterion="cross_entropy",
        valid_metric="sciem",
        maximize=True,
        main_metric="sciem",
        dataset_dir="mtop",
        languages=_langs("de en es fr hi th"),
        scorer="recipes_sciem",
        validate_by_generation=True,
        task_options=("--target-format",),
    ),
    Evaluation(
        name="xsum",
        kind=SEQ2SEQ,
        fairseq_task="recipes_summarization",
        criterion="cross_entropy",
        valid_metric="loss",
        maximize=False,
        main_metric="rougeL",
        dataset_dir="xsum",
        languages=("en",),
        scorer="recipes_rouge",
        reported_metrics=("rouge1", "rouge2", "rougeL"),
        task_options=("--xsum-split-file",),
    ),
)

#: name -> row, in the paper's order (Table 2's columns, then Table 3's)
EVALUATIONS: Dict[str, Evaluation] = {row.name: row for row in _ROWS}
NAMES = tuple(EVALUATIONS)
ENCODER_NAMES = tuple(n for n, row in EVALUATIONS.items() if row.kind == ENCODER)
SEQ2SEQ_NAMES = tuple(n for n, row in EVALUATIONS.items() if row.kind == SEQ2SEQ)


def evaluation(name: str, option: str = "--task") -> Evaluation:
    """The row of ``name``; an unknown name is one line naming ``option``."""
    try:
        return EVALUATIONS[name]
    except KeyError:
        raise RecipesError(
            f"{option} {name}: no such evaluation (known: {', '.join(NAMES)})"
        ) from None


def optimizer_args() -> list:
    """The paper's fine-tuning optimizer, for every evaluation (encoder and seq2seq):
    AdamW (fairseq's adam, decoupled weight decay) and the dropout it trains with."""
    return [
        "--optimizer",
        "adam",
        "--adam-betas",
        str(paper.FINETUNE_ADAM_BETAS),
        "--weight-decay",
        paper.FINETUNE_WEIGHT_DECAY,
        "--dropout",
        paper.FINETUNE_DROPOUT,
    ]
