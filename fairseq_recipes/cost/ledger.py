"""Live compute accounting: the TU and FLOPs a fairseq-train run has consumed so far.

Every training batch is priced from its real token counts and the model's freeze state
at that update: TU from the batch's ``ntokens`` (the block tokens; ``training_units``),
FLOPs from each sequence's unpadded source and target lengths and, for MLM, its predicted
positions (``flops``). Validation is not counted, nor are the steps fairseq skips on an
fp16 overflow (they are not updates either).

:class:`ComputeLedgerTask` adds this to a fairseq task: the batch's cost travels in the
logging outputs (summed over workers like every other count), ``reduce_metrics`` adds it
to the run's total and logs ``tu`` and ``flops`` (cumulative; TensorBoard too), and the
total is saved in the task state of every checkpoint (``task_state["recipes_ledger"]``),
from which a resumed run continues (``compat/task_state_resume.py``). A run started with
``--reset-meters`` or ``--finetune-from-model`` starts from zero: it is a new run.

A task that trains several objectives (recipe 3) prices each batch by what each computed
(:meth:`ComputeLedgerTask.training_cost`) and names them in ``ledger_objectives``; the
ledger then also keeps, per objective, the updates that trained it and their tokens, TU
and FLOPs (``Ledger.objectives``).
"""

from dataclasses import asdict, dataclass, field

from fairseq.logging import metrics

from .flops import forward_flops
from .model_shape import ModelShape
from .training_units import training_units

LEDGER_STATE_KEY = "recipes_ledger"
#: logging-output keys of one batch's cost (numbers, so fairseq can sum them)
TU_KEY, FLOPS_KEY, TOKENS_KEY = "recipes_tu", "recipes_flops", "recipes_tokens"
#: log keys of the running totals, shown just before fairseq's timing fields
LOG_PRIORITY = 790


@dataclass
class Ledger:
    tu: float = 0.0
    flops: float = 0.0
    tokens: int = 0
    #: per objective of a multi-objective run: {"updates", "tokens", "tu", "flops"}
    objectives: dict = field(default_factory=dict)


def objective_key(key: str, objective: str) -> str:
    """The logging-output key of one objective's share of a batch's cost."""
    return f"{key}:{objective}"


def _unwrap(model):
    while hasattr(model, "module"):  # fairseq's distributed wrappers
        model = model.module
    return model


def encoder_frozen(model) -> bool:
    return bool(getattr(_unwrap(model).encoder, "frozen", False))


def batch_cost(ntokens: int, source, target, shape: ModelShape, frozen: bool) -> dict:
    """The cost of one training batch, as logging outputs: ``ntokens`` block tokens,
    each row's unpadded ``source`` length and ``target`` length (the decoder's tokens,
    or an MLM model's predicted positions)."""
    flops = 0
    for n, m in zip(source, target):
        if shape.decoder_layers:
            flops += forward_flops(shape, n, target=m).train(frozen)
        else:
            flops += forward_flops(shape, n, predicted=m).train(frozen)
    return {
        TU_KEY: training_units(
            ntokens, shape.encoder_layers, shape.decoder_layers, frozen
        ),
        FLOPS_KEY: float(flops),
        TOKENS_KEY: int(ntokens),
    }


class ComputeLedgerTask:
    """Mixin for a :class:`~fairseq.tasks.FairseqTask` (put it first in the bases)."""

    #: the objectives a multi-objective task prices separately (``objective_key``)
    ledger_objectives = ()

    @property
    def ledger(self) -> Ledger:
        if not hasattr(self, "_ledger"):
            self._ledger = Ledger()
        return self._ledger

    def _model_shape(self, model) -> ModelShape:
        if getattr(self, "_ledger_model", None) is not model:
            self._ledger_model = model
            self._ledger_shape = ModelShape.of_model(_unwrap(model))
        return self._ledger_shape

    def ledger_lengths(self, sample):
        """Per row: unpadded source tokens, and target tokens (MLM: the target holds
        the predicted positions only)."""
        pad = self.source_dictionary.pad()
        source = sample["net_input"]["src_tokens"].ne(pad).sum(dim=1).tolist()
        return source, sample["target"].ne(pad).sum(dim=1).tolist()

    def training_cost(self, sample, model) -> dict:
        """What training on ``sample`` computed, as logging outputs (``batch_cost``)."""
        source, target = self.ledger_lengths(sample)
        return batch_cost(
            sample["ntokens"],
            source,
            target,
            self._model_shape(model),
            encoder_frozen(model),
        )

    def train_step(
        self, sample, model, criterion, optimizer, update_num, ignore_grad=False
    ):
        loss, sample_size, logging_output = super().train_step(
            sample, model, criterion, optimizer, update_num, ignore_grad
        )
        cost = self.training_cost(sample, model)
        if ignore_grad:  # fairseq's dummy batch: no work, but every worker sends the keys
            cost = {key: 0 * value for key, value in cost.items()}
        logging_output.update(cost)
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        if not any(TU_KEY in log for log in logging_outputs):
            return  # validation
        ledger = self.ledger
        ledger.tu += float(sum(log.get(TU_KEY, 0) for log in logging_outputs))
        ledger.flops += float(sum(log.get(FLOPS_KEY, 0) for log in logging_outputs))
        ledger.tokens += int(sum(log.get(TOKENS_KEY, 0) for log in logging_outputs))
        for objective in self.ledger_objectives:  # one call per update while training
            entry = ledger.objectives.setdefault(
                objective, {"updates": 0, "tokens": 0, "tu": 0.0, "flops": 0.0}
            )
            tokens = int(
                sum(
                    log.get(objective_key(TOKENS_KEY, objective), 0)
                    for log in logging_outputs
                )
            )
            entry["updates"] += int(tokens > 0)
            entry["tokens"] += tokens
            for name, key in (("tu", TU_KEY), ("flops", FLOPS_KEY)):
                entry[name] += float(
                    sum(
                        log.get(objective_key(key, objective), 0)
                        for log in logging_outputs
                    )
                )
        # weight 0: every aggregation window shows the running total, not an average
        metrics.log_scalar("tu", ledger.tu, weight=0, priority=LOG_PRIORITY)
        metrics.log_scalar("flops", ledger.flops, weight=0, priority=LOG_PRIORITY + 1)

    def state_dict(self):
        return {**super().state_dict(), LEDGER_STATE_KEY: asdict(self.ledger)}

    def resume_state_dict(self, state: dict) -> None:
        """Continue the ledger of the run whose checkpoint fairseq-train resumes."""
        if LEDGER_STATE_KEY in state:
            saved = dict(state[LEDGER_STATE_KEY])
            saved["objectives"] = {
                k: dict(v) for k, v in saved.get("objectives", {}).items()
            }
            self._ledger = Ledger(**saved)


def checkpoint_cost(state: dict) -> Ledger:
    """The ledger saved in a loaded checkpoint (zero when it has none)."""
    return Ledger(**state.get("task_state", {}).get(LEDGER_STATE_KEY, {}))
