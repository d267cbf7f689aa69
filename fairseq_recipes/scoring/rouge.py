"""ROUGE-1, ROUGE-2 and ROUGE-L F1 of summaries with Google's ``rouge-score`` package (a
pure-Python reimplementation of the ROUGE-1.5.5 script, no Perl needed), and a fairseq
scorer (``fairseq-generate --scoring recipes_rouge``) that prints them.

* Porter stemming on (``use_stemmer=True``), the usual setting for XSUM results.
* The figure is the mean over pairs of each pair's F1 (``fmeasure``), in percent: the
  mid value of rouge-score's ``BootstrapAggregator`` estimates the same mean by
  resampling, so the plain mean is that figure without the randomness.
* ROUGE-L is rouge-score's ``rougeLsum``: the summary-level LCS over sentences separated
  by ``"\\n"``. On text without newlines (XSUM summaries are one sentence, and fairseq's
  hypotheses and references are one line each) it equals ``rougeL`` exactly.
* rouge-score's default tokenizer lowercases and keeps only the letters a-z and digits
  0-9 (everything else separates tokens): fine for English XSUM, meaningless for scripts
  without Latin letters, where almost every token vanishes.
"""

from dataclasses import dataclass
from typing import Dict, Sequence

from fairseq.dataclass import FairseqDataclass
from fairseq.scoring import BaseScorer, register_scorer
from rouge_score import rouge_scorer

#: our key -> rouge-score's rouge type
ROUGE_TYPES = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rougeLsum"}


def rouge(references: Sequence[str], hypotheses: Sequence[str]) -> Dict[str, float]:
    """Mean stemmed F1 (percent) over the pairs: ``rouge1``, ``rouge2``, ``rougeL``."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("ROUGE of no summaries")
    each = rouge_per_pair(references, hypotheses)
    return {key: 100 * sum(values) / len(values) for key, values in each.items()}


def rouge_per_pair(
    references: Sequence[str], hypotheses: Sequence[str]
) -> Dict[str, list]:
    """Stemmed F1 (fraction) of each pair: ``rouge1``, ``rouge2``, ``rougeL``."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES.values()), use_stemmer=True)
    out = {key: [] for key in ROUGE_TYPES}
    for ref, hyp in zip(references, hypotheses, strict=True):
        scores = scorer.score(ref, hyp)  # (target, prediction)
        for key, rouge_type in ROUGE_TYPES.items():
            out[key].append(scores[rouge_type].fmeasure)
    return out


@dataclass
class RougeScorerConfig(FairseqDataclass):
    """No options. fairseq's option parser needs a dataclass for every registered scorer,
    even an empty one (without it ``--scoring recipes_rouge`` fails inside fairseq)."""


@register_scorer("recipes_rouge", dataclass=RougeScorerConfig)
class RougeScorer(BaseScorer):
    """fairseq's view of :func:`rouge`: ``score()`` is ROUGE-L, ``result_string()`` all
    three."""

    def add_string(self, ref, pred):
        self.ref.append(ref)
        self.pred.append(pred)

    def scores(self) -> Dict[str, float]:
        return rouge(self.ref, self.pred)

    def score(self, order=None) -> float:
        return self.scores()["rougeL"]

    def result_string(self, order=None) -> str:
        s = self.scores()
        return (
            f"ROUGE-1 {s['rouge1']:.2f} ROUGE-2 {s['rouge2']:.2f} ROUGE-L {s['rougeL']:.2f} "
            f"(rouge-score, stemmed F1, {len(self.ref)} pairs)"
        )
