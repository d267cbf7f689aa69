"""Span F1 of label sequences with seqeval, from counts that can be summed.

seqeval's default (conlleval-style) F1 is micro over entities: 2 TP / (predicted + gold),
with entities read by ``seqeval.metrics.sequence_labeling.get_entities``. Counting TP,
predicted and gold entities sentence by sentence and summing gives the same figure as
``seqeval.metrics.f1_score`` over all sentences (sentences never share an entity), so
fairseq can sum the counts over batches and workers, and derive F1 once.
"""

from typing import Sequence, Tuple

from seqeval.metrics.sequence_labeling import get_entities


def entity_counts(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> Tuple[int, int, int]:
    """(true positives, predicted entities, gold entities) over the sentences."""
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, predicted):
        gold_entities = set(get_entities(list(g)))
        pred_entities = set(get_entities(list(p)))
        tp += len(gold_entities & pred_entities)
        n_pred += len(pred_entities)
        n_gold += len(gold_entities)
    return tp, n_pred, n_gold


def f1_from_counts(tp: float, n_pred: float, n_gold: float) -> float:
    """seqeval's F1 (0 when there is nothing to find and nothing found)."""
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold > 0 else 0.0
