"""A damaged checkpoint_last.pt: resume from the latest readable checkpoint, or one line."""

import inspect
import struct
import zipfile

import pytest
import torch
from fairseq import checkpoint_utils

import fairseq_recipes  # noqa: F401  (installs the fix)
from fairseq_recipes.compat.resume_fallback import damage, newest_readable, resume_path
from fairseq_recipes.errors import RecipesError


def _save(path, value):
    torch.save({"model": {"w": torch.full((64,), float(value))}}, path)
    return path


def test_stock_fairseq_fails_on_an_empty_checkpoint_last(tmp_path):
    """What a resume met before the fix: fairseq's own loader, unwrapped, dies."""
    (tmp_path / "checkpoint_last.pt").write_bytes(b"")
    stock = inspect.unwrap(checkpoint_utils.load_checkpoint_to_cpu)
    with pytest.raises(EOFError):
        stock(str(tmp_path / "checkpoint_last.pt"))


def test_damage_is_told_from_a_whole_file(tmp_path):
    whole = _save(tmp_path / "whole.pt", 1)
    assert damage(whole) is None
    data = whole.read_bytes()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "half.pt").write_bytes(data[: len(data) // 2])
    assert damage(tmp_path / "empty.pt") == "is empty"
    assert "truncated" in damage(tmp_path / "half.pt")
    # same length, one byte of a tensor changed: its checksum no longer matches
    with zipfile.ZipFile(whole) as archive:
        member = next(i for i in archive.infolist() if "/data/" in i.filename)
    # the local header's own name and extra lengths (torch pads records there)
    head = member.header_offset
    name_len, extra_len = struct.unpack("<HH", data[head + 26 : head + 30])
    offset = head + 30 + name_len + extra_len
    flipped = bytearray(data)
    flipped[offset + 3] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    assert "checksum" in damage(tmp_path / "flipped.pt")


def test_the_fallback_is_the_readable_checkpoint_furthest_into_training(tmp_path):
    for name, value in [
        ("checkpoint1.pt", 1),
        ("checkpoint_1_5.pt", 2),
        ("checkpoint_2_9.pt", 3),
        ("checkpoint_best.pt", 0),
    ]:
        _save(tmp_path / name, value)
    (tmp_path / "checkpoint_2_12.pt").write_bytes(b"half a file")  # damaged: skipped
    last = tmp_path / "checkpoint_last.pt"
    last.write_bytes(b"")
    assert newest_readable(tmp_path, exclude=last).name == "checkpoint_2_9.pt"
    assert resume_path(str(last)) == str(tmp_path / "checkpoint_2_9.pt")
    # a whole checkpoint_last is resumed from, as fairseq would
    _save(last, 4)
    assert resume_path(str(last)) == str(last)


def test_no_readable_checkpoint_is_one_line_and_touches_nothing(tmp_path):
    last = tmp_path / "checkpoint_last.pt"
    last.write_bytes(b"\0" * 10)
    (tmp_path / "checkpoint_1_3.pt").write_bytes(b"")
    with pytest.raises(RecipesError) as err:
        resume_path(str(last))
    message = str(err.value)
    assert "\n" not in message and str(last) in message and "no other readable" in message
    assert last.read_bytes() == b"\0" * 10
