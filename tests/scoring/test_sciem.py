"""SCIEM on hand-made pairs: case and whitespace do not count, anything else does."""

from fairseq_recipes.scoring.sciem import SciemScorer, exact_match, sciem


def test_case_and_spacing_are_ignored():
    assert exact_match(
        "[IN:GET_WEATHER [SL:LOCATION New York ] ]",
        "[in:get_weather [sl:location new york]]",
    )
    assert exact_match("[IN:X [SL:Y a b ] ]", " [IN:X\t[SL:Y a  b ] ]\n")


def test_anything_else_counts():
    assert not exact_match("[IN:X [SL:Y a ] ]", "[IN:X [SL:Z a ] ]")  # label
    assert not exact_match("[IN:X [SL:Y a ] ]", "[IN:X [SL:Y a ]")  # bracket
    assert not exact_match("[IN:X [SL:Y york ] ]", "[IN:X [SL:Y yorks ] ]")  # word
    # whitespace is removed, not normalized: words run together still match
    assert exact_match("[IN:X [SL:Y new york ] ]", "[IN:X [SL:Y newyork ] ]")


def test_percentage_and_fairseq_scorer_agree():
    refs = ["[IN:A x ]", "[IN:B y ]", "[IN:C z ]", "[IN:D w ]"]
    hyps = ["[in:a X ]", "[IN:B  y]", "[IN:C q ]", ""]
    assert sciem(refs, hyps) == 50.0
    scorer = SciemScorer()
    for r, h in zip(refs, hyps):
        scorer.add_string(r, h)
    assert scorer.score() == 50.0
    assert scorer.result_string().startswith("SCIEM 50.00 (2/4 exact")
