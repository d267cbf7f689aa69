"""Bad, damaged and hostile input through the real commands, as a new user would give it.

Every case of ``CASES`` runs one command of the project (or fairseq's, with the plugin)
on one bad input and asserts what the README promises: a non-zero exit, exactly one
``error:`` line that names the culprit (the file, line, option or setting), no traceback,
never torch's advice to load with ``weights_only=False``, no payload run, and every file
the command was pointed at left byte for byte as it was.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List

import pytest
import torch
from helpers import PLUGIN, ROOT, TRAIN_SCRIPTS, run

PYTHON = sys.executable
MARKER_NAME = "PAYLOAD-RAN"


def tree_hash(path: Path) -> Dict[str, str]:
    """Every file under ``path`` (or the file itself) and a hash of its bytes."""
    path = Path(path)
    if not path.exists():
        return {}
    files = (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    )
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


class Payload:
    """Pickles as ``os.system("touch MARKER")``: what a hostile checkpoint carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_copy(source: Path, target: Path, marker: Path) -> Path:
    state = torch.load(source, weights_only=False)
    state["extra_state"]["note"] = Payload(marker)
    torch.save(state, target)
    return target


@dataclass
class Ctx:
    tmp: Path
    data_bin: Path
    roberta: Path  # a smoke roberta-12e save directory (read-only: copy it first)
    bart: Path  # a smoke bart-12e2d save directory
    marker: Path = field(init=False)

    def __post_init__(self):
        self.marker = self.tmp / MARKER_NAME

    def copy(self, src: Path, name: str) -> Path:
        dst = self.tmp / name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
        return dst


@dataclass
class Case:
    """``build(ctx)`` returns (argv, env, culprit text, paths that must not change)."""

    name: str
    build: Callable


def _module(name, *args):
    return [PYTHON, "-m", name, *map(str, args)]


def _script(name, data, save_dir, **env):
    env = {
        "SMOKE": "1",
        "DATA": str(data),
        "SAVE_DIR": str(save_dir),
        "PYTHON": PYTHON,
        **{k: str(v) for k, v in env.items()},
    }
    return ["bash", str(TRAIN_SCRIPTS / f"{name}.sh")], env


def _generate(ctx, checkpoint):
    return _module(
        "fairseq_cli.generate",
        ctx.data_bin / "shard0",
        "--user-dir",
        PLUGIN,
        "--path",
        checkpoint,
        "--task",
        "recipes_span_denoising",
        "--tokens-per-sample",
        128,
        "--max-tokens",
        4096,
        "--cpu",
        "--gen-subset",
        "valid_en",
        "--beam",
        3,
        "--required-batch-size-multiple",
        1,
    )


# ---- the cases ------------------------------------------------------------------------
def corpus(ctx, name):
    return text_folder(ctx.tmp / name)


def text_folder(raw: Path) -> Path:
    raw.mkdir()
    (raw / "en.txt").write_text("An English line.\n\nAnother document here.\n" * 5)
    return raw


def preprocess_args(raw, out):
    return _module(
        "fairseq_recipes.preprocessing.binarize",
        "--input",
        raw,
        "--output",
        out,
        "--vocab-size",
        60,
        "--valid-docs",
        1,
        "--workers",
        1,
    )


def utf16(ctx):
    raw = corpus(ctx, "raw16")
    (raw / "de.txt").write_text(
        "Ein deutscher Satz.\n\nNoch einer.\n" * 5, encoding="utf-16"
    )
    return (
        preprocess_args(raw, ctx.tmp / "out"),
        {},
        f"{raw / 'de.txt'}: not UTF-8",
        [raw],
    )


def nul_bytes(ctx):
    raw = corpus(ctx, "rawnul")
    (raw / "de.txt").write_bytes(b"\x00\x01binary\x00" * 100)
    return (
        preprocess_args(raw, ctx.tmp / "out"),
        {},
        f"{raw / 'de.txt'}: not UTF-8",
        [raw],
    )


def latin1(ctx):
    raw = corpus(ctx, "rawlatin")
    (raw / "de.txt").write_bytes("Größe über Straße\n\n".encode("latin-1") * 10)
    return (
        preprocess_args(raw, ctx.tmp / "out"),
        {},
        "de.txt: not UTF-8 text: 10 of",
        [raw],
    )


def output_dot(ctx):
    raw = corpus(ctx, "rawdot")
    argv = preprocess_args(raw, ".")
    return argv, {}, ".: refusing to write an output folder here", [raw]


def script_setting(name, value, culprit):
    def build(ctx):
        argv, env = _script("roberta-12e", ctx.data_bin, ctx.tmp / "ck", **{name: value})
        return argv, env, culprit, [ctx.data_bin, ctx.tmp / "ck"]

    return build


def damaged_data(kind):
    def build(ctx):
        data = ctx.copy(ctx.data_bin, "data")
        if kind == "bin":
            culprit = data / "shard1" / "en" / "train.bin"
            with open(culprit, "r+b") as f:
                f.truncate(culprit.stat().st_size - 10)
        elif kind == "idx":
            culprit = data / "shard0" / "en" / "valid.idx"
            with open(culprit, "r+b") as f:
                f.truncate(30)
        elif kind == "shard":
            shutil.rmtree(data / "shard1")
            culprit = data / "shard1"
        else:  # the manifest's vocabulary no longer that of dict.txt
            manifest = data / "manifest.json"
            text = manifest.read_text()
            size = __import__("json").loads(text)["vocab_size"]
            manifest.write_text(text.replace(f'"vocab_size": {size}', '"vocab_size": 7'))
            culprit = manifest
        argv, env = _script("roberta-12e", data, ctx.tmp / "ck")
        return argv, env, str(culprit), [data, *checkpoints(ctx.tmp / "ck")]

    return build


def checkpoints(save_dir: Path) -> List[Path]:
    """What a resume must not change (its log is appended to, its lock file written)."""
    return sorted(save_dir.glob("*.pt")) + [save_dir / "never-written.pt"]


def resume_other_data(ctx):
    """The same folder resumed on a corpus whose dictionary has the same size and other
    symbols (two of them swapped)."""
    data = ctx.copy(ctx.data_bin, "data")
    for dict_path in data.rglob("dict.txt"):
        lines = dict_path.read_text(encoding="utf-8").splitlines()
        lines[10], lines[11] = lines[11], lines[10]
        dict_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    save_dir = ctx.copy(ctx.roberta, "ck")
    argv, env = _script("roberta-12e", data, save_dir, UPDATES=40)
    return argv, env, "trained with another dictionary", checkpoints(save_dir)


def hostile_resume(ctx):
    save_dir = ctx.copy(ctx.roberta, "ck")
    hostile_copy(
        save_dir / "checkpoint_last.pt", save_dir / "checkpoint_last.pt", ctx.marker
    )
    argv, env = _script("roberta-12e", ctx.data_bin, save_dir, UPDATES=40)
    return argv, env, "pickles posix.system", checkpoints(save_dir)


def unreadable_resume(ctx):
    save_dir = ctx.tmp / "ck"
    save_dir.mkdir()
    (save_dir / "checkpoint_last.pt").write_bytes(b"PK\x03\x04 half a checkpoint")
    argv, env = _script("roberta-12e", ctx.data_bin, save_dir)
    return argv, env, "no other readable checkpoint", checkpoints(save_dir)


def other_recipe_resume(ctx):
    """An MLM run's folder given to the denoising script."""
    save_dir = ctx.copy(ctx.roberta, "ck")
    argv, env = _script("bart-12e2d", ctx.data_bin, save_dir, UPDATES=40)
    return argv, env, "its weights do not fit this run's model", checkpoints(save_dir)


def generate_with(kind):
    def build(ctx):
        if kind == "truncated":
            path = ctx.tmp / "model.pt"
            data = (ctx.bart / "checkpoint_last.pt").read_bytes()
            path.write_bytes(data[: len(data) // 3])
            culprit = f"{path}: not a readable fairseq checkpoint"
        elif kind == "missing":
            path = ctx.tmp / "nothing.pt"
            culprit = f"{path}: no such checkpoint file"
        elif kind == "hostile":
            path = hostile_copy(
                ctx.bart / "checkpoint_last.pt", ctx.tmp / "h.pt", ctx.marker
            )
            culprit = f"{path}: refused to load checkpoint: it pickles posix.system"
        else:  # an MLM checkpoint given to the denoising task
            path = ctx.roberta / "checkpoint_last.pt"
            culprit = "--path: not a seq2seq checkpoint"
        return _generate(ctx, path), {}, culprit, [path, ctx.data_bin]

    return build


def hostile_for(command):
    def build(ctx):
        path = hostile_copy(
            ctx.roberta / "checkpoint_last.pt", ctx.tmp / "h.pt", ctx.marker
        )
        out = ctx.tmp / "out"
        argv = {
            "finetune": _module(
                "fairseq_recipes.eval.finetune",
                "--checkpoint",
                path,
                "--evaluation",
                "wikiann",
                "--data",
                ctx.data_bin,
                "--train",
                ctx.panx,
                "--valid",
                ctx.panx,
                "--test",
                f"en={ctx.panx}",
                "--output",
                out,
                "--cpu",
            ),
            "export": _module(
                "fairseq_recipes.export.hf_export",
                "--checkpoint",
                path,
                "--output",
                out,
                "--data",
                ctx.data_bin,
            ),
            "extract": _module(
                "fairseq_recipes.checkpoints.extract_encoder",
                "--input",
                path,
                "--output",
                out,
            ),
            "cost": _module("fairseq_recipes.cost.cli", "--checkpoints", path),
        }[command]
        return (
            argv,
            {},
            f"{path}: refused to load checkpoint: it pickles posix.system",
            [path],
        )

    return build


def finetune_bad(kind):
    def build(ctx):
        test = ctx.tmp / "test_de"
        culprit = str(test)
        if kind == "malformed":
            test.write_text("de:Bob\tB-PER\nde:in O extra\n\n", encoding="utf-8")
            culprit = f"{test}:2"
        elif kind == "empty":
            test.write_text("", encoding="utf-8")
        elif kind == "unknown-label":
            test.write_text("de:Bob\tB-LOC\n\n", encoding="utf-8")
            culprit = "label 'B-LOC' is not in the training data"
        extra = ["--seeds", 0] if kind == "seeds" else ["--test", f"de={test}"]
        if kind == "seeds":
            culprit = "--seeds 0: must be at least 1"
        out = ctx.tmp / "out"
        argv = _module(
            "fairseq_recipes.eval.finetune",
            "--checkpoint",
            ctx.roberta / "checkpoint_last.pt",
            "--evaluation",
            "wikiann",
            "--data",
            ctx.data_bin,
            "--train",
            ctx.panx,
            "--valid",
            ctx.panx,
            "--output",
            out,
            "--cpu",
            "--max-updates",
            2,
            *extra,
        )
        return argv, {}, culprit, [ctx.tmp / "out", ctx.roberta]

    return build


def export_over_foreign(ctx):
    folder = ctx.tmp / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("three years of work\n")
    argv = _module(
        "fairseq_recipes.export.hf_export",
        "--checkpoint",
        ctx.roberta / "checkpoint_last.pt",
        "--output",
        folder,
        "--data",
        ctx.data_bin,
        "--overwrite",
    )
    return argv, {}, f"{folder}: not an output of recipes-export-hf", [folder]


def export_to_dot(ctx):
    argv = _module(
        "fairseq_recipes.export.hf_export",
        "--checkpoint",
        ctx.roberta / "checkpoint_last.pt",
        "--output",
        ".",
        "--data",
        ctx.data_bin,
        "--overwrite",
    )
    return argv, {}, ".: refusing to write an output folder here", [ctx.roberta]


def config_value(text, culprit):
    def build(ctx):
        path = ctx.tmp / "bad.toml"
        path.write_text(f"extends_toy = true\nwork_dir = '{ctx.tmp / 'work'}'\n{text}\n")
        argv = _module("fairseq_recipes.pipeline.main", "--config", path, "--dry-run")
        return argv, {}, f"{path}: {culprit}", [path]

    return build


CASES = [
    Case("preprocess: a UTF-16 file", utf16),
    Case("preprocess: a binary file", nul_bytes),
    Case("preprocess: a Latin-1 file", latin1),
    Case("preprocess: --output .", output_dot),
    Case("script: UPDATES=0", script_setting("UPDATES", "0", "UPDATES=0: must be >= 1")),
    Case(
        "script: UPDATES=-5", script_setting("UPDATES", "-5", "UPDATES=-5: must be >= 1")
    ),
    Case(
        "script: PEAK_LR=abc", script_setting("PEAK_LR", "abc", "PEAK_LR=abc: expected")
    ),
    Case("script: MAX_TOKENS=0", script_setting("MAX_TOKENS", "0", "MAX_TOKENS=0")),
    Case(
        "script: HEADS=5", script_setting("HEADS", "5", "must be a multiple of HEADS=5")
    ),
    Case("script: LAUNCHER=mpi", script_setting("LAUNCHER", "mpi", "LAUNCHER=mpi")),
    Case("train: a truncated .bin", damaged_data("bin")),
    Case("train: a truncated .idx", damaged_data("idx")),
    Case("train: a shard missing", damaged_data("shard")),
    Case("train: manifest and dict.txt disagree", damaged_data("vocab")),
    Case("resume: other data, same dictionary size", resume_other_data),
    Case("resume: a hostile checkpoint_last.pt", hostile_resume),
    Case("resume: nothing readable", unreadable_resume),
    Case("resume: another recipe's folder", other_recipe_resume),
    Case("generate: a truncated checkpoint", generate_with("truncated")),
    Case("generate: a missing checkpoint", generate_with("missing")),
    Case("generate: a hostile checkpoint", generate_with("hostile")),
    Case("generate: an MLM checkpoint", generate_with("mlm")),
    Case("finetune: a hostile checkpoint", hostile_for("finetune")),
    Case("export: a hostile checkpoint", hostile_for("export")),
    Case("extract: a hostile checkpoint", hostile_for("extract")),
    Case("cost: a hostile checkpoint", hostile_for("cost")),
    Case("finetune: --seeds 0", finetune_bad("seeds")),
    Case("finetune: a malformed test file", finetune_bad("malformed")),
    Case("finetune: an empty test file", finetune_bad("empty")),
    Case("finetune: a test label training lacks", finetune_bad("unknown-label")),
    Case("export: --overwrite a folder it did not make", export_over_foreign),
    Case("export: --output .", export_to_dot),
    Case("config: seeds = -2", config_value("[evaluate]\nseeds = -2", "evaluate.seeds")),
    Case(
        "config: seeds = '3'", config_value("[evaluate]\nseeds = '3'", "evaluate.seeds")
    ),
    Case(
        "config: UPDATES = 'abc'",
        config_value("[pretrain]\nUPDATES = 'abc'", "pretrain.UPDATES=abc"),
    ),
    Case(
        "config: vocab_size = 0",
        config_value("[preprocess]\nvocab_size = 0", "preprocess.vocab_size"),
    ),
    Case(
        "config: batch_size = 'x'",
        config_value(
            "[evaluate.finetune]\nbatch_size = 'x'", "evaluate.finetune.batch_size"
        ),
    ),
]


@pytest.fixture(scope="module")
def ctx_factory(smoke, data_bin, tmp_path_factory):
    roberta, bart = smoke("roberta-12e")[0], smoke("bart-12e2d")[0]
    panx = tmp_path_factory.mktemp("panx") / "train"
    panx.write_text("en:Ada\tB-PER\nen:met\tO\nen:Bob\tB-PER\n\n" * 8, encoding="utf-8")

    def make(tmp):
        ctx = Ctx(tmp, data_bin, roberta, bart)
        ctx.panx = panx
        return ctx

    return make


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_destroys_nothing(case, ctx_factory, tmp_path):
    ctx = ctx_factory(tmp_path)
    argv, env, culprit, watched = case.build(ctx)
    before = {str(p): tree_hash(p) for p in watched}
    proc = run(argv, env=env, cwd=tmp_path, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0, output[-2000:]
    assert len(errors) == 1 and culprit in errors[0], output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    assert (
        "weights_only` set to `False" not in output and "weights_only=False" not in output
    )
    assert not ctx.marker.exists(), "the hostile checkpoint's payload ran"
    # nothing changed, and nothing was trained or written where it was pointed
    assert {str(p): tree_hash(p) for p in watched} == before


# ---- the environment: file systems, leftovers, interruptions ---------------------------
def _mount_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _mount_works(), reason="needs unshare and a user mount namespace"
)


def _on_tmpfs(mount: Path, argv, env, read_only=False, size="8k"):
    """``argv`` in a mount namespace where ``mount`` is a small (or read-only) tmpfs."""
    mount.mkdir(exist_ok=True)
    setup = f"mount -t tmpfs -o size={size} tmpfs {mount}"
    if read_only:
        setup += f" && mount -o remount,ro {mount}"
    command = " ".join(f"'{a}'" for a in map(str, argv))
    return run(
        ["unshare", "-rm", "sh", "-c", f"{setup} && exec {command}"],
        env=env,
        check=False,
        timeout=600,
    )


def _one_error(proc) -> str:
    output = proc.stdout + proc.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and len(errors) == 1, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    return errors[0]


@needs_mount
@pytest.mark.parametrize(
    "read_only, cause",
    [(True, "read-only file system"), (False, "no space left on the device")],
)
def test_preprocess_output_on_a_bad_file_system(read_only, cause, tmp_path):
    out = tmp_path / "mnt" / "data-bin"
    raw = text_folder(tmp_path / "raw")
    proc = _on_tmpfs(tmp_path / "mnt", preprocess_args(raw, out), {}, read_only)
    assert _one_error(proc) == f"error: {out}: cannot write: {cause}"


@needs_mount
def test_training_into_a_read_only_save_dir(tmp_path, data_bin):
    save_dir = tmp_path / "mnt" / "ck"
    argv, env = _script("roberta-12e", data_bin, save_dir)
    proc = _on_tmpfs(tmp_path / "mnt", argv, env, read_only=True)
    assert "read-only file system" in _one_error(proc) and str(save_dir) in _one_error(
        proc
    )


@needs_mount
def test_a_full_disk_during_a_checkpoint_save(tmp_path, data_bin):
    """The save fails in one line, and no partial checkpoint is left to resume from."""
    save_dir = tmp_path / "mnt"
    argv, env = _script("roberta-12e", data_bin, save_dir, UPDATES=2, SAVE_INTERVAL=1)
    proc = _on_tmpfs(save_dir, [*argv], env, size="1m")
    line = _one_error(proc)
    assert "no space left on the device" in line and ".pt: cannot write" in line


def test_a_killed_runs_leftover_is_removed_by_the_next_run(tmp_path):
    raw = text_folder(tmp_path / "raw")
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs, as a killed run's would
    leftover = tmp_path / f"out.tmp-{dead.pid}"
    (leftover / "shard0").mkdir(parents=True)
    (leftover / "shard0" / "half.bin").write_bytes(b"\0" * 100)
    run(preprocess_args(raw, out))
    assert not leftover.exists() and (out / "manifest.json").is_file()


def _ours(work: Path) -> List[int]:
    """Processes whose command line or environment names ``work``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(work).encode() in text:
            found.append(int(entry.name))
    return found


def _start_main_job(tmp_path):
    """recipes-main training roberta-12e for long, in its own session (a terminal's)."""
    work = tmp_path / "work"
    config = tmp_path / "c.toml"
    config.write_text(
        f"extends_toy = true\nwork_dir = '{work}'\n"
        "[corpus]\ndocs_per_lang = 30\nlangs = ['en', 'de']\n"
        "[preprocess]\nvocab_size = 300\nvalid_docs = 2\n"
        "[pretrain]\nUPDATE_DIVISOR = 100\n"
    )
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "fairseq_recipes.pipeline.main",
            "--config",
            str(config),
            "--step",
            "pretrain",
            "--model",
            "roberta-12e",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        trainers = [
            p
            for p in _ours(work)
            if b"fairseq_cli.train" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        if trainers and (work / "checkpoints" / "roberta-12e" / ".train.lock").exists():
            return proc, work
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    raise AssertionError("training never started")


def _gone(work: Path, seconds=60) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not _ours(work):
            return True
        time.sleep(0.5)
    return False


def test_ctrl_c_ends_the_main_job_and_its_training_in_one_line(tmp_path):
    proc, work = _start_main_job(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted"), err[-2000:]
    assert "Traceback" not in out + err, err[-3000:]
    assert _gone(work), f"left running: {_ours(work)}"


def test_killing_the_main_job_ends_its_training_too(tmp_path):
    proc, work = _start_main_job(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)  # nothing of the main job runs after this
    proc.communicate(timeout=60)
    assert _gone(work), f"left running: {_ours(work)}"
