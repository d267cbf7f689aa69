"""Weights-only checkpoint loading: fairseq's own classes allowed, anything else refused."""

import argparse
import fractions

import numpy as np
import pytest
import torch
from fairseq import checkpoint_utils

import fairseq_recipes  # noqa: F401  (installs the allowlist)
from fairseq_recipes.compat.safe_checkpoints import (
    UnsafeCheckpointError,
    fairseq_checkpoint_globals,
)


def _fairseq_like_state():
    """What fairseq 0.12's trainer saves: a plain-dict cfg whose model is a Namespace."""
    from omegaconf import OmegaConf

    return {
        "args": None,
        "cfg": {
            "model": argparse.Namespace(arch="roberta_12e", encoder_layers=2),
            "task": {"_name": "recipes_mlm", "data": "x"},
            # older checkpoints keep omegaconf containers
            "common": OmegaConf.create(
                {"seed": 1, "paths": ["a", {"b": 2.5}], "x": None}
            ),
        },
        "model": {"w": torch.ones(2)},
        "optimizer_history": [
            {
                "criterion_name": "MaskedLmLoss",
                "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": np.float64(1.5)},
                "num_updates": 3,
            }
        ],
        "extra_state": {"best": np.float64(2.5), "train_iterator": {"epoch": 1}},
        "last_optimizer_state": None,
    }


def test_allowlist_is_exact_classes():
    allowed = fairseq_checkpoint_globals()
    assert argparse.Namespace in allowed
    roots = {
        "argparse",
        "builtins",
        "collections",
        "typing",
        "omegaconf",
        "fairseq",
        "numpy",
    }
    assert all(c.__module__.split(".")[0] in roots for c in allowed), allowed
    assert fractions.Fraction not in allowed


def test_fairseq_checkpoint_loads_weights_only(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save(_fairseq_like_state(), path)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert state["extra_state"]["best"] == 2.5
    assert torch.equal(state["model"]["w"], torch.ones(2))


def test_other_globals_refused_in_one_line(tmp_path):
    state = _fairseq_like_state()
    state["extra_state"]["sneaky"] = fractions.Fraction(1, 3)
    path = tmp_path / "checkpoint.pt"
    torch.save(state, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and "fractions.Fraction" in message


def test_weights_only_stays_on():
    """The plugin allowlists; it does not turn weights-only loading off."""
    import inspect

    assert inspect.signature(torch.load).parameters["weights_only"].default is None
    import os

    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ


class _System:
    def __reduce__(self):
        import os

        return (os.system, ("true",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1",))


class _OrderedDictOfSystem:
    def __reduce__(self):
        import collections
        import os

        return (collections.OrderedDict, (os.system,))


def _file(path, content: bytes):
    path.write_bytes(content)
    return path


def _hostile(tmp_path, name, payload, **save):
    state = _fairseq_like_state()
    state["extra_state"]["x"] = payload
    path = tmp_path / f"{name}.pt"
    torch.save(state, path, **save)
    return path


@pytest.mark.parametrize(
    "name, build, refused",
    [
        ("blocked-module", lambda p: _hostile(p, "a", _System()), "posix.system"),
        ("not-allowlisted", lambda p: _hostile(p, "b", _Eval()), "eval"),
        (
            "allowed-class-called-on-a-function",
            lambda p: _hostile(p, "c", _OrderedDictOfSystem()),
            "posix.system",
        ),
        (
            "legacy-format",
            lambda p: _hostile(p, "d", _System(), _use_new_zipfile_serialization=False),
            "posix.system",
        ),
        (
            "plain-pickle",
            lambda p: _file(
                p / "e.pt", __import__("pickle").dumps({"model": _System()}, protocol=4)
            ),
            "refuses it",
        ),
        ("legacy-tar", lambda p: _file(p / "f.pt", b"\0" * 4096), "legacy .tar format"),
    ],
)
def test_every_refusal_is_one_line_without_the_unsafe_advice(
    tmp_path, name, build, refused
):
    path = build(tmp_path)
    with pytest.raises(UnsafeCheckpointError) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message and refused in message
    assert "weights_only" not in message.replace("weights-only", "")


@pytest.mark.parametrize("content, looks", [(b"", "empty"), (b"text\n", "truncated?")])
def test_a_damaged_file_is_one_line_saying_what_it_looks_like(tmp_path, content, looks):
    from fairseq_recipes.compat.safe_checkpoints import DamagedCheckpointError

    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(DamagedCheckpointError) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert "\n" not in str(err.value) and looks in str(err.value)
