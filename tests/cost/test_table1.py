"""recipes-cost: Table 1 as the paper prints it, and the FLOP view beside it."""

import json
from dataclasses import replace

import pytest
from helpers import python_module

from fairseq_recipes import recipe3
from fairseq_recipes.cost import training_units
from fairseq_recipes.cost.flops import block_forward_flops, stage_shape
from fairseq_recipes.cost.table1 import Width, both_models_cost, model_cost
from fairseq_recipes.recipes import BOTH_MODELS, STAGES

# paper, Table 1: the compute cost of each model and of each way to get both, in TU
PAPER_MODELS = {
    "roberta-12e": 5.0,
    "bart-12e12d": 10.0,
    "bart-12e12d-mask": 10.0,
    "bart-12e2d": 5.8,
    "bart-12e2d-mask": 5.8,
    "bart-12e1d-mask": 5.4,
    "bart-12e12d+mlm": 11.0,
    "2stage-bart-12e12d": 12.5,
    "2stage-bart-12e12d-attn-f": 12.5,
    "2stage-bart-12e12d-unfrz": 11.0,
}
PAPER_BOTH = {
    "from scratch": 15.0,
    "recipe 1": 11.0,
    "recipe 2": 12.5,
    "recipe 2, unfrozen": 11.0,
}


def _cost(*args):
    return python_module("fairseq_recipes.cost.cli", *args, check=False)


@pytest.fixture(scope="module")
def tables():
    proc = _cost("--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_reproduces_the_papers_costs(tables):
    models = {m["model"]: round(m["tu"], 1) for m in tables["models"] if m["in_paper"]}
    assert models == PAPER_MODELS
    assert [m["model"] for m in tables["models"] if not m["in_paper"]] == [recipe3.NAME]
    both = {b["way"]: round(b["tu"], 1) for b in tables["both_models"]}
    assert {way: both[way] for way in PAPER_BOTH} == PAPER_BOTH
    # the headline: both models for 27% less
    unfrozen = next(b for b in tables["both_models"] if b["way"] == "recipe 2, unfrozen")
    assert round(unfrozen["tu_saving"], 2) == 0.27


def test_rows_carry_layers_updates_and_stages(tables):
    rows = {m["model"]: m for m in tables["models"]}
    unfrz = rows["2stage-bart-12e12d-unfrz"]
    assert (unfrz["encoder_layers"], unfrz["decoder_layers"]) == (12, 12)
    # 500k of MLM, then 200k frozen and 150k trained with the decoder
    assert unfrz["encoder_updates"] == 650_000
    assert unfrz["encoder_frozen_updates"] == 200_000
    assert unfrz["decoder_updates"] == 350_000
    assert [round(p["tu"], 1) for p in unfrz["phases"]] == [5.0, 3.0, 3.0]
    recipe1 = rows["bart-12e12d+mlm"]
    assert [p["stage"] for p in recipe1["phases"]] == ["bart-12e12d", "bart-12e12d+mlm"]
    # as the paper prints it: the decoder of the stage it starts from (12 layers, 500k
    # updates), its encoder's 500k + 100k updates, and the TU exact
    assert (recipe1["encoder_layers"], recipe1["decoder_layers"]) == (12, 12)
    assert (recipe1["encoder_updates"], recipe1["decoder_updates"]) == (600_000, 500_000)
    assert recipe1["encoder_frozen_updates"] == 0
    assert [round(p["tu"], 1) for p in recipe1["phases"]] == [10.0, 1.0]
    roberta = rows["roberta-12e"]  # an encoder with no seq2seq stage behind it has none
    assert (roberta["decoder_layers"], roberta["decoder_updates"]) == (0, 0)


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_printed_tables_show_the_papers_figures(fmt):
    proc = _cost("--format", fmt)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for model, tu in PAPER_MODELS.items():
        (row,) = [line for line in lines if line.strip("| ").split()[:1] == [model]]
        assert f" {tu:.1f} " in row
    for way, stages, tu in [
        ("from scratch", "5.0 + 10.0", 15.0),
        ("recipe 1", "10.0 + 1.0", 11.0),
        ("recipe 2, unfrozen", "5.0 + 3.0 + 3.0", 11.0),
    ]:
        (row,) = [line for line in lines if line.strip("| ").startswith(way + " ")]
        assert f"{stages} " in row and f" {tu:.1f} " in row
    (row,) = [line for line in lines if line.strip("| ").startswith("bart-12e12d+mlm ")]
    cells = row.strip("| ").split("|") if fmt == "markdown" else row.split()
    assert [c.strip() for c in cells[:6]] == [
        "bart-12e12d+mlm",
        "12",
        "12",
        "600k",
        "500k",
        "-",
    ]
    if fmt == "markdown":
        assert sum(line.startswith("| ") for line in lines) == 2 + 11 + 6
    # recipe 3's rows are marked as not the paper's, with the note that says so
    for name in (recipe3.NAME, "recipe 3, joint"):
        (row,) = [line for line in lines if line.strip("| ").startswith(name + " ")]
        assert row.strip("| ").startswith(f"{name} †") and " 11.0 " in row
    assert any(line.startswith("† Not in the paper: bart-12e12d-joint") for line in lines)


def test_frozen_layers_cost_half_a_tu_layer():
    tokens = 100_000 * 1_000_000
    assert training_units.training_units(tokens, 12, 0) == 1.0
    assert training_units.training_units(tokens, 12, 12, encoder_frozen=True) == 1.5
    phases = training_units.phases(STAGES["2stage-bart-12e12d-unfrz"])
    assert [(p.updates, p.encoder_frozen) for p in phases] == [
        (200_000, True),
        (150_000, False),
    ]


def test_flop_view_agrees_with_tu_where_tu_is_exact():
    """With no output head worth counting, an encoder's FLOPs are its TU."""
    width = Width(vocab=1)
    row = model_cost("roberta-12e", width)
    assert row["flops_in_tu"] == pytest.approx(5.0, rel=0.01)
    assert row["tu"] == 5.0


def test_frozen_encoder_saves_two_thirds_of_its_flops():
    stage = STAGES["2stage-bart-12e12d-unfrz"]
    block = block_forward_flops(stage, stage_shape(stage, 250_000, 1024, 4096, 512))
    frozen, trained = [model_cost(stage.name)["phases"][i] for i in (1, 2)]
    per_update = [p["flops"] / p["updates"] for p in (frozen, trained)]
    blocks = 1_000_000 / 512
    saved = per_update[1] - per_update[0]
    assert saved == pytest.approx(blocks * (2 * block.encoder + block.cross_kv))


def test_shape_from_the_command_line_changes_flops_not_tu(tables):
    proc = _cost(
        "--format",
        "json",
        "--hidden",
        "512",
        "--ffn",
        "2048",
        "--vocab",
        "32000",
        "--tokens-per-sample",
        "256",
    )
    small = json.loads(proc.stdout)
    assert small["width"] == dict(
        hidden=512, ffn=2048, vocab=32000, tokens_per_sample=256
    )
    for big, little in zip(tables["models"], small["models"]):
        assert little["tu"] == big["tu"]
        assert little["flops"] < big["flops"] / 3
    # a small vocabulary: the output layer no longer dominates
    assert "32,000-token vocabulary" in " ".join(small["notes"])


def test_notes_state_where_flops_and_tu_disagree(tables):
    notes = " ".join(tables["notes"])
    assert "1/3 of a trained one" in notes and "not the paper's 0.5" in notes
    assert "250,000-token vocabulary is 42% of bart-12e12d's FLOPs" in notes


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vocab", "-5"], "argument --vocab: -5 must be positive"),
        (["--hidden", "wide"], "argument --hidden: 'wide' is not an integer"),
        (["--tokens-per-sample", "2"], "--tokens-per-sample: a block needs"),
    ],
)
def test_bad_options_are_one_line_errors(args, message):
    proc = _cost(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr.strip().splitlines()[-1]


def test_output_file_is_written_whole(tmp_path):
    out = tmp_path / "table1.md"
    assert _cost("--format", "markdown", "--output", out).returncode == 0
    assert out.read_text() == _cost("--format", "markdown").stdout
    assert not (tmp_path / "table1.md.tmp").exists()


def test_recipe3_is_priced_by_objective_within_recipe2_unfrozens_budget(tables):
    rows = {m["model"]: m for m in tables["models"]}
    joint = rows[recipe3.NAME]
    # 100k MLM updates at the encoder's 12 layers, 500k denoising updates at 24
    assert [(p["objectives"], round(p["tu"], 1)) for p in joint["phases"]] == [
        (["mlm"], 1.0),
        (["denoising"], 10.0),
    ]
    assert (joint["encoder_updates"], joint["decoder_updates"]) == (600_000, 500_000)
    assert joint["tu"] == pytest.approx(11.0) and not joint["in_paper"]
    both = {b["way"]: b for b in tables["both_models"]}
    assert both["recipe 3, joint"]["tu"] <= both["recipe 2, unfrozen"]["tu"]
    assert both["recipe 3, joint"]["tu"] <= recipe3.BUDGET_TU
    # the same objective updates as recipe 1, interleaved: the same FLOPs
    assert joint["flops"] == pytest.approx(rows["bart-12e12d+mlm"]["flops"], rel=1e-9)
    # the other schedules: sampled (expected counts), both losses every update
    stage = STAGES[recipe3.NAME]
    sampled = replace(stage, objective_schedule="sample", mlm_share=0.25)
    assert training_units.stage_units(sampled) == pytest.approx(6 * (0.25 + 0.75 * 2))
    summed = replace(stage, objective_schedule="sum", updates=300_000)
    assert training_units.stage_units(summed) == pytest.approx(3 * 3.0)
    assert set(BOTH_MODELS["recipe 3, joint"]) == {recipe3.NAME}
    assert both_models_cost()[-1]["way"] == "recipe 3, joint"
