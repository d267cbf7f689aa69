"""Predictions of a fine-tuned model on whole examples, and their metrics.

Examples are cut into the task's pieces, run in batches, and put back together: word
labels are the pieces' first-subword predictions in order (``encoding.rejoin``);
sentence labels (XNLI, mATIS++ intents) come from the mean of the pieces' logits. Metrics
are seqeval's and plain accuracy, computed on whole sentences.
"""

from collections import defaultdict
from typing import List

import torch
from seqeval.metrics import f1_score

from ..criterions.labels import INTENT_HEAD, SENTENCE_HEAD, SLOT_HEAD, TAG_HEAD
from ..data.finetune.encoding import rejoin
from .intervals import f1_parts, mean_parts, ratio_parts
from .readers.examples import IntentSlots, SentencePair, TaggedWords


def _batches(dataset, size):
    for start in range(0, len(dataset), size):
        indices = range(start, min(start + size, len(dataset)))
        yield list(indices), dataset.collater([dataset[i] for i in indices])


@torch.no_grad()
def predict(task, model, examples: List, batch_size: int = 64) -> List:
    """Per example: its tags (word tagging), its label (XNLI) or (intent, slots)."""
    model.eval()
    dataset, pieces = task.examples_dataset(examples)
    word_heads = {TaggedWords: TAG_HEAD, IntentSlots: SLOT_HEAD}
    sentence_heads = {SentencePair: SENTENCE_HEAD, IntentSlots: INTENT_HEAD}
    kind = type(examples[0]) if examples else TaggedWords
    word_predictions, logits = [], defaultdict(list)
    for indices, batch in _batches(dataset, batch_size):
        features = model.features(batch["net_input"]["src_tokens"])
        if kind in word_heads:
            predicted = model.heads[word_heads[kind]](features).argmax(-1)
            for row, i in enumerate(indices):
                first = torch.from_numpy(pieces[i].first_subword)
                word_predictions.append(
                    [task.labels[p] for p in predicted[row, first].tolist()]
                )
        if kind in sentence_heads:
            scores = model.heads[sentence_heads[kind]](features[:, 0]).float()
            for row, i in enumerate(indices):
                logits[pieces[i].sentence].append(scores[row])
    out = []
    words = rejoin(pieces, word_predictions) if kind in word_heads else {}
    for n in range(len(examples)):
        if kind is SentencePair:
            out.append(task.labels[int(torch.stack(logits[n]).mean(0).argmax())])
        elif kind is IntentSlots:
            intent = task.intents[int(torch.stack(logits[n]).mean(0).argmax())]
            out.append((intent, words[n]))
        else:
            out.append(words[n])
    return out


def _accuracy(pairs) -> float:
    pairs = list(pairs)
    return 100.0 * sum(g == p for g, p in pairs) / max(len(pairs), 1)


def score(examples: List, predictions: List) -> dict:
    """The task's metrics (percentages) for one language."""
    kind = type(examples[0])
    if kind is SentencePair:
        return {
            "accuracy": _accuracy((e.label, p) for e, p in zip(examples, predictions))
        }
    if kind is IntentSlots:
        gold = [list(e.slots) for e in examples]
        slots = [list(p[1]) for p in predictions]
        return {
            "intent_accuracy": _accuracy(
                (e.intent, p[0]) for e, p in zip(examples, predictions)
            ),
            "slot_f1": 100.0 * f1_score(gold, slots),
        }
    gold = [list(e.tags) for e in examples]
    pred = [list(p) for p in predictions]
    words = ((g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    # seqeval reads plain POS tags as entities too: the F1 XTREME and the paper report
    return {"f1": 100.0 * f1_score(gold, pred), "accuracy": _accuracy(words)}


def score_parts(examples: List, predictions: List) -> dict:
    """{metric: what ``intervals.py`` resamples} for the metrics of ``score`` (each
    gives ``score``'s value on the whole set)."""
    kind = type(examples[0])
    if kind is SentencePair:
        return {
            "accuracy": mean_parts([e.label == p for e, p in zip(examples, predictions)])
        }
    if kind is IntentSlots:
        return {
            "intent_accuracy": mean_parts(
                [e.intent == p[0] for e, p in zip(examples, predictions)]
            ),
            "slot_f1": f1_parts([e.slots for e in examples], [p[1] for p in predictions]),
        }
    gold, pred = [list(e.tags) for e in examples], [list(p) for p in predictions]
    # word accuracy resampled by sentence, as the F1 is
    words = [(sum(g == q for g, q in zip(gs, ps)), len(gs)) for gs, ps in zip(gold, pred)]
    return {"f1": f1_parts(gold, pred), "accuracy": ratio_parts(words)}
