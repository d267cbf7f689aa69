"""Losses and validation metrics of the fine-tuning tasks.

* ``recipes_sentence_classification`` (XNLI): cross-entropy of the ``<s>`` head;
  ``accuracy``.
* ``recipes_word_tagging`` (WikiANN, UDPOS): cross-entropy over each word's first
  subword; ``accuracy`` (per word) and seqeval's span ``f1``.
* ``recipes_intent_slots`` (mATIS++): the intent loss plus the slot loss, each a mean
  (over sentences, over words); ``intent_accuracy``, ``slot_accuracy`` and ``slot_f1``.

Losses are reported in base 2, as fairseq's. The span F1 is summed from per-batch
counts (``scoring/sequence_labels.py``); during validation a sentence cut into pieces
is scored piece by piece, while the final evaluation scores whole sentences.
"""

import math

import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.logging import metrics

from ..data.finetune.encoding import IGNORE
from ..scoring.sequence_labels import entity_counts, f1_from_counts

SENTENCE_HEAD, TAG_HEAD = "sentence", "tags"
INTENT_HEAD, SLOT_HEAD = "intent", "slots"


def _sentence_terms(logits, target):
    loss = F.cross_entropy(logits.float(), target, reduction="sum")
    return loss, int((logits.argmax(-1) == target).sum())


def _word_terms(logits, target, labels, with_spans: bool):
    """Loss over labelled positions, correct words, and span counts when asked."""
    mask = target.ne(IGNORE)
    loss = F.cross_entropy(logits[mask].float(), target[mask], reduction="sum")
    predicted = logits.argmax(-1)
    out = {
        "_nwords": int(mask.sum()),
        "_ncorrect_words": int((predicted[mask] == target[mask]).sum()),
    }
    if with_spans:
        gold = [[labels[t] for t in row[m].tolist()] for row, m in zip(target, mask)]
        pred = [[labels[p] for p in row[m].tolist()] for row, m in zip(predicted, mask)]
        out["_tp"], out["_npred"], out["_ngold"] = entity_counts(gold, pred)
    return loss, out


def _log_sums(logging_outputs, keys):
    """Sum meters (hidden from the log: their names start with _)."""
    for key in keys:
        value = sum(log.get(key, 0) for log in logging_outputs)
        metrics.log_scalar_sum(key if key.startswith("_") else f"_{key}", value)


def _log_span_f1(logging_outputs, name):
    """seqeval's F1, during validation only (training skips the span counts)."""
    if any("_tp" in log for log in logging_outputs):
        _log_sums(logging_outputs, ["_tp", "_npred", "_ngold"])
        metrics.log_derived(name, _span_f1)


def _log_loss(logging_outputs):
    loss = sum(log.get("loss", 0) for log in logging_outputs)
    size = sum(log.get("sample_size", 0) for log in logging_outputs)
    metrics.log_scalar("loss", loss / max(size, 1) / math.log(2), size, round=3)


def _percent(numerator, denominator):
    return lambda meters: (
        round(100 * meters[f"_{numerator}"].sum / meters[f"_{denominator}"].sum, 2)
        if meters[f"_{denominator}"].sum > 0
        else 0.0
    )


def _span_f1(meters):
    counts = [meters[k].sum for k in ("_tp", "_npred", "_ngold")]
    return round(100 * f1_from_counts(*counts), 2)


class _LabelsCriterion(FairseqCriterion):
    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True

    def _features(self, model, sample):
        return model.features(sample["net_input"]["src_tokens"])


@register_criterion("recipes_sentence_classification")
class SentenceClassificationCriterion(_LabelsCriterion):
    def forward(self, model, sample, reduce=True):
        logits = model.heads[SENTENCE_HEAD](self._features(model, sample)[:, 0])
        loss, correct = _sentence_terms(logits, sample["sentence_target"])
        n = len(logits)
        log = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": n,
            "sample_size": n,
            "ncorrect": correct,
        }
        return loss, n, log

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        _log_loss(logging_outputs)
        _log_sums(logging_outputs, ["ncorrect", "nsentences"])
        metrics.log_derived("accuracy", _percent("ncorrect", "nsentences"))


@register_criterion("recipes_word_tagging")
class WordTaggingCriterion(_LabelsCriterion):
    def forward(self, model, sample, reduce=True):
        logits = model.heads[TAG_HEAD](self._features(model, sample))
        loss, terms = _word_terms(
            logits, sample["target"], self.task.labels, with_spans=not model.training
        )
        log = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": len(logits),
            "sample_size": terms["_nwords"],
            **terms,
        }
        return loss, terms["_nwords"], log

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        _log_loss(logging_outputs)
        _log_sums(logging_outputs, ["_nwords", "_ncorrect_words"])
        metrics.log_derived("accuracy", _percent("ncorrect_words", "nwords"))
        _log_span_f1(logging_outputs, "f1")


@register_criterion("recipes_intent_slots")
class IntentSlotsCriterion(_LabelsCriterion):
    def forward(self, model, sample, reduce=True):
        features = self._features(model, sample)
        intent_loss, correct = _sentence_terms(
            model.heads[INTENT_HEAD](features[:, 0]), sample["sentence_target"]
        )
        slot_loss, terms = _word_terms(
            model.heads[SLOT_HEAD](features),
            sample["target"],
            self.task.labels,
            with_spans=not model.training,
        )
        n = len(features)
        # the sum of the two means, with fairseq dividing by the number of sentences
        loss = intent_loss + slot_loss * (n / max(terms["_nwords"], 1))
        log = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": n,
            "sample_size": n,
            "ncorrect_intents": correct,
            **terms,
        }
        return loss, n, log

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        _log_loss(logging_outputs)
        _log_sums(
            logging_outputs,
            ["nsentences", "ncorrect_intents", "_nwords", "_ncorrect_words"],
        )
        metrics.log_derived("intent_accuracy", _percent("ncorrect_intents", "nsentences"))
        metrics.log_derived("slot_accuracy", _percent("ncorrect_words", "nwords"))
        _log_span_f1(logging_outputs, "slot_f1")
