"""ROUGE against rouge-score called directly: on hand-made pairs, and on the 50 articles of
XSUM's human evaluation (../shared/data/xsum) with the summaries of five systems."""

import re

import pytest
from helpers import shared_data
from rouge_score import rouge_scorer

from fairseq_recipes.scoring.rouge import RougeScorer, rouge

SECTIONS = (
    "Document-400",
    "Document-Full",
    "LEAD",
    "Ext-Oracle",
    "Pointer-Generator",
    "ConvS2S",
    "Topic-ConvS2S",
    "Reference",
    "Questions-Answers",
)
SYSTEMS = ("LEAD", "Ext-Oracle", "Pointer-Generator", "ConvS2S", "Topic-ConvS2S")


def direct(references, hypotheses):
    """Mean stemmed F1 (percent) of rouge-score's own scorer, pair by pair."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    scores = [scorer.score(r, h) for r, h in zip(references, hypotheses)]
    return {
        key: 100 * sum(s[rouge_type].fmeasure for s in scores) / len(scores)
        for key, rouge_type in (
            ("rouge1", "rouge1"),
            ("rouge2", "rouge2"),
            ("rougeL", "rougeLsum"),
        )
    }


def parse_human_evaluation(path):
    """{article id: {section: its lines}} of ``xsum-human-evaluation-data.txt``: blocks
    opened by ``==id==``, each section a header line followed by text up to a blank line.
    """
    blocks, section = {}, None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        opened = re.fullmatch(r"==(\d+)==", line)
        if opened:
            block, section = blocks.setdefault(opened.group(1), {}), None
        elif line in SECTIONS:
            section = block.setdefault(line, [])
        elif line.strip():
            assert section is not None, f"{path}:{lineno}: text outside a section"
            section.append(line.strip())
    return blocks


def test_hand_made_pairs_equal_rouge_score():
    references = [
        "The cats were running in the garden .",
        "Police arrested two men after a fire in Newport .",
        "A new academy opens in west Berkshire .",
    ]
    hypotheses = [
        "A cat runs in a garden .",
        "Two men have been arrested by police over a Newport fire .",
        "nothing in common",
    ]
    ours, theirs = rouge(references, hypotheses), direct(references, hypotheses)
    assert ours.keys() == {"rouge1", "rouge2", "rougeL"}
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-9)
    # stemming: "cats"/"cat" and "running"/"runs" match
    assert rouge(["cats running"], ["cat runs"])["rouge1"] == pytest.approx(100.0)
    assert rouge(["a b c"], ["x y z"]) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_length_mismatch_and_nothing_to_score():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        rouge(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no summaries"):
        rouge([], [])


def test_scorer_result_string():
    scorer = RougeScorer(None)
    scorer.add_string("the cat sat on the mat .", "a cat sat on a mat")
    assert scorer.score() == pytest.approx(
        rouge(["the cat sat on the mat ."], ["a cat sat on a mat"])["rougeL"]
    )
    assert scorer.result_string() == (
        "ROUGE-1 66.67 ROUGE-2 40.00 ROUGE-L 66.67 (rouge-score, stemmed F1, 1 pairs)"
    )


@pytest.fixture(scope="module")
def human_evaluation():
    root = shared_data()
    path = root / "xsum" / "xsum-human-evaluation-data.txt" if root else None
    if path is None or not path.is_file():
        pytest.skip("../shared/data/xsum/xsum-human-evaluation-data.txt is not present")
    return parse_human_evaluation(path)


def test_human_evaluation_file_parses(human_evaluation):
    assert len(human_evaluation) == 50
    for block in human_evaluation.values():
        assert set(block) == set(SECTIONS)
        for name in (*SYSTEMS, "Reference"):
            assert len(block[name]) == 1  # one-sentence summaries


@pytest.mark.parametrize("system", SYSTEMS)
def test_human_evaluation_systems(human_evaluation, system):
    references = [block["Reference"][0] for block in human_evaluation.values()]
    hypotheses = [block[system][0] for block in human_evaluation.values()]
    ours = rouge(references, hypotheses)
    theirs = direct(references, hypotheses)
    print(system, {key: round(value, 2) for key, value in ours.items()})
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-9)

    scorer = RougeScorer(None)
    for ref, hyp in zip(references, hypotheses):
        scorer.add_string(ref, hyp)
    assert scorer.score() == pytest.approx(ours["rougeL"], abs=1e-9)
    assert scorer.result_string() == (
        f"ROUGE-1 {ours['rouge1']:.2f} ROUGE-2 {ours['rouge2']:.2f} "
        f"ROUGE-L {ours['rougeL']:.2f} (rouge-score, stemmed F1, 50 pairs)"
    )
    assert 0 < ours["rouge2"] < ours["rougeL"] < ours["rouge1"]
    assert 5 < ours["rouge1"] < 60


def test_human_evaluation_lead_scores_lowest(human_evaluation):
    """As in the XSUM paper: the article's first sentence (LEAD) is the weakest summary,
    below every other system (Ext-Oracle included) on ROUGE-1, ROUGE-2 and ROUGE-L.
    Measured (R-1/R-2/R-L): LEAD 16.66/1.60/12.08, Ext-Oracle 28.52/8.20/22.79,
    Pointer-Generator 30.06/10.23/24.70, ConvS2S 33.06/14.03/26.85, Topic-ConvS2S
    42.74/21.99/36.18."""
    references = [block["Reference"][0] for block in human_evaluation.values()]
    scores = {
        system: rouge(
            references, [block[system][0] for block in human_evaluation.values()]
        )
        for system in SYSTEMS
    }
    for key in ("rouge1", "rouge2", "rougeL"):
        others = [scores[system][key] for system in SYSTEMS if system != "LEAD"]
        assert scores["LEAD"][key] < min(others)
    assert scores["LEAD"]["rouge2"] < 2 < 20 < scores["Topic-ConvS2S"]["rouge2"]
