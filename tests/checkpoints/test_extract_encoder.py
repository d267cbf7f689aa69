"""Recipe 1's extraction: a seq2seq checkpoint's encoder as a roberta_12e checkpoint."""

import sys

import pytest
import torch
from fairseq import checkpoint_utils
from helpers import run

from fairseq_recipes.checkpoints.extract_encoder import extract_encoder
from fairseq_recipes.errors import RecipesError


@pytest.fixture(scope="module")
def bart_path(smoke):
    return smoke("bart-12e12d")[0] / "checkpoint_last.pt"


@pytest.fixture(scope="module")
def extracted(bart_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract") / "encoder.pt"
    summary = extract_encoder(bart_path, out, seed=3)
    return out, summary


def test_extracted_encoder_computes_the_same_function(bart_path, extracted, data_bin):
    path, summary = extracted
    assert summary["layers"] == 12 and summary["embed_dim"] == 64
    (bart,), _ = checkpoint_utils.load_model_ensemble([str(bart_path)])
    (mlm,), _, task = checkpoint_utils.load_model_ensemble_and_task([str(path)])
    assert (
        type(mlm).__name__ == "RobertaModel"
        and type(task).__name__ == "MultilingualMLMTask"
    )
    bart.eval(), mlm.eval()
    task.load_dataset("valid")
    ds = task.dataset("valid")
    batch = ds.collater([ds[i] for i in range(min(4, len(ds)))])
    src = batch["net_input"]["src_tokens"]
    ours = mlm.encoder.sentence_encoder(src)["encoder_out"][0]
    theirs = bart.encoder(src, batch["net_input"]["src_lengths"])["encoder_out"][0]
    assert torch.equal(ours, theirs)
    # the head's projection: equal to the embeddings, but its own parameter
    head, embed = (
        mlm.encoder.lm_head.weight,
        mlm.encoder.sentence_encoder.embed_tokens.weight,
    )
    assert head is not embed and head.data_ptr() != embed.data_ptr()
    assert torch.equal(head, embed)
    assert torch.equal(embed, bart.encoder.embed_tokens.weight)
    # the rest of the head is fresh: BERT initialization
    lm_head = mlm.encoder.lm_head
    assert abs(lm_head.dense.weight.std().item() - 0.02) < 0.004
    assert not lm_head.dense.bias.any() and not lm_head.bias.any()
    assert torch.equal(lm_head.layer_norm.weight, torch.ones(64))


def test_fresh_head_depends_on_the_seed_only(bart_path, extracted, tmp_path):
    path, _ = extracted
    again = tmp_path / "again.pt"
    extract_encoder(bart_path, again, seed=3)
    other = tmp_path / "other.pt"
    extract_encoder(bart_path, other, seed=4)
    a, b, c = (torch.load(p, weights_only=False)["model"] for p in (path, again, other))
    key = "encoder.lm_head.dense.weight"
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a[key], c[key])


def test_bad_input(bart_path, extracted, smoke, tmp_path):
    path, _ = extracted
    with pytest.raises(RecipesError, match="exists"):
        extract_encoder(bart_path, path)
    with pytest.raises(RecipesError, match="no such checkpoint file"):
        extract_encoder(tmp_path / "missing.pt", tmp_path / "x.pt")
    # the reverse of recipe 2's check: an MLM checkpoint is not a seq2seq one
    mlm = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    with pytest.raises(RecipesError, match="is an MLM"):
        extract_encoder(mlm, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_cli_refuses_to_overwrite(bart_path, extracted):
    path, _ = extracted
    before = path.read_bytes()
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_recipes.checkpoints.extract_encoder",
            "--input",
            bart_path,
            "--output",
            path,
        ],
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: exists (pass --overwrite to replace it)\n"
    assert path.read_bytes() == before
