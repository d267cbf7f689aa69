"""SCIEM: space- and case-insensitive exact match of logical forms (mTOP's metric in the
paper): lowercase, remove all whitespace, compare. Sentinels must already be mapped back
to words (the semantic parsing task does that before fairseq-generate scores).

``fairseq-generate --scoring recipes_sciem`` prints it.
"""

from dataclasses import dataclass

from fairseq.dataclass import FairseqDataclass
from fairseq.scoring import BaseScorer, register_scorer


def sciem_key(text: str) -> str:
    return "".join(text.lower().split())


def exact_match(reference: str, hypothesis: str) -> bool:
    return sciem_key(reference) == sciem_key(hypothesis)


def sciem(references, hypotheses) -> float:
    """Percentage of exact matches."""
    pairs = list(zip(references, hypotheses, strict=True))
    return 100.0 * sum(exact_match(r, h) for r, h in pairs) / max(len(pairs), 1)


@dataclass
class SciemScorerConfig(FairseqDataclass):
    """No options (fairseq's option parser needs a config class)."""


@register_scorer("recipes_sciem", dataclass=SciemScorerConfig)
class SciemScorer(BaseScorer):
    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.matches = 0

    def add_string(self, ref, pred):
        self.ref.append(ref)
        self.pred.append(pred)
        self.matches += exact_match(ref, pred)

    def score(self, order=None) -> float:
        return 100.0 * self.matches / max(len(self.ref), 1)

    def result_string(self, order=None) -> str:
        return (
            f"SCIEM {self.score():.2f} ({self.matches}/{len(self.ref)} exact after "
            "lowercasing and removing whitespace)"
        )
