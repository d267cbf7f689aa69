"""What the train scripts launch on each kind of hardware (``DRY_RUN=1`` prints it).

GPUs, nodes and Slurm cannot run here; the commands they would get can be checked: the
launcher, the world size, the update frequency that keeps 1M tokens per update, the
precision, ZeRO and the DDP flags of the freeze schedule. The CPU paths run for real in
``test_distributed_training.py``.
"""

import shlex
import sys

import pytest
from helpers import TRAIN_SCRIPTS, run

#: the paper's tokens per update over MAX_TOKENS=8192 per process, rounded up
PAPER_TOKENS = 1_000_000


def _launch(name, data_bin, tmp_path, *, check=True, **env):
    env = {
        "DATA": str(data_bin),
        "SAVE_DIR": str(tmp_path / name),
        "DRY_RUN": "1",
        "PYTHON": sys.executable,
        "GPUS_PER_NODE": "0",
        **{k: str(v) for k, v in env.items()},
    }
    proc = run(["bash", TRAIN_SCRIPTS / f"{name}.sh"], env=env, check=check)
    if not check:
        return proc
    assert not (tmp_path / name).exists()  # a dry run writes nothing
    return shlex.split(proc.stdout.strip().splitlines()[-1])


def _option(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd else None


def _update_freq(world):
    return str(-(-PAPER_TOKENS // (8192 * world)))


@pytest.fixture
def no_slurm(monkeypatch):
    for key in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NNODES", "SLURM_JOB_NODELIST"):
        monkeypatch.delenv(key, raising=False)


def test_one_gpu(data_bin, tmp_path, no_slurm):
    cmd = _launch("roberta-12e", data_bin, tmp_path, GPUS_PER_NODE=1, PRECISION="bf16")
    assert cmd[1:3] == ["-m", "fairseq_cli.train"]
    assert _option(cmd, "--update-freq") == _update_freq(1) == "123"
    assert "--bf16" in cmd and "--cpu" not in cmd
    assert "--distributed-world-size" not in cmd


def test_one_node_of_eight_gpus(data_bin, tmp_path, no_slurm):
    cmd = _launch("roberta-12e", data_bin, tmp_path, GPUS_PER_NODE=8)
    assert cmd[1:3] == ["-m", "fairseq_cli.train"]  # fairseq spawns the 8 processes
    assert _option(cmd, "--distributed-world-size") == "8"
    assert _option(cmd, "--update-freq") == _update_freq(8) == "16"
    assert _option(cmd, "--ddp-backend") == "c10d"
    # no bf16 on this GPU-less machine's torch: the default falls back to fp16
    assert "--fp16" in cmd and "--distributed-backend" not in cmd


def test_nodes_under_torchrun(data_bin, tmp_path, no_slurm):
    cmd = _launch(
        "bart-12e12d",
        data_bin,
        tmp_path,
        GPUS_PER_NODE=8,
        NODES=4,
        NODE_RANK=2,
        MASTER_ADDR="node0",
        PRECISION="bf16",
    )
    runner = cmd[: cmd.index("fairseq_cli.train") + 1]
    assert runner[1:3] == ["-m", "torch.distributed.run"]
    assert [
        _option(runner, o)
        for o in (
            "--nproc-per-node",
            "--nnodes",
            "--node-rank",
            "--master-addr",
            "--master-port",
        )
    ] == ["8", "4", "2", "node0", "29500"]
    assert _option(cmd, "--distributed-world-size") == "32"
    assert _option(cmd, "--update-freq") == _update_freq(32) == "4"


def test_slurm_one_task_per_gpu(data_bin, tmp_path, no_slurm):
    slurm = {"SLURM_PROCID": 5, "SLURM_NTASKS": 32, "SLURM_NNODES": 4}
    cmd = _launch(
        "roberta-12e", data_bin, tmp_path, GPUS_PER_NODE=8, PRECISION="bf16", **slurm
    )
    assert cmd[1:3] == ["-m", "fairseq_cli.train"]  # the task is the process
    assert _option(cmd, "--distributed-world-size") == "32"
    assert _option(cmd, "--distributed-port") == "29500"
    proc = _launch(
        "roberta-12e",
        data_bin,
        tmp_path,
        check=False,
        GPUS_PER_NODE=8,
        **{**slurm, "SLURM_NTASKS": 4},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: under srun, SLURM_NTASKS (4) must be GPUS_PER_NODE x NODES = 32: one task "
        "per GPU"
    )


def test_cpu_ranks_under_torchrun(data_bin, tmp_path, no_slurm):
    cmd = _launch("roberta-12e", data_bin, tmp_path, SMOKE=1, CPU_RANKS=2)
    assert "--standalone" in cmd and _option(cmd, "--nproc-per-node") == "2"
    assert _option(cmd, "--distributed-backend") == "gloo" and "--cpu" in cmd


@pytest.mark.parametrize(
    "precision,flags",
    [
        ("fp16", ["--fp16", "--zero-sharding", "os", "--fp16-no-flatten-grads"]),
        ("bf16", ["--bf16", "--zero-sharding", "os"]),
        ("memory-efficient-fp16", ["--memory-efficient-fp16", "--zero-sharding", "os"]),
    ],
)
def test_zero_and_precision(data_bin, tmp_path, no_slurm, precision, flags):
    cmd = _launch(
        "roberta-12e", data_bin, tmp_path, GPUS_PER_NODE=8, ZERO=1, PRECISION=precision
    )
    tail = [a for a in cmd if a in set(flags) | {"--fp16-no-flatten-grads"}]
    assert tail == flags


@pytest.mark.parametrize(
    "env,unused",
    [
        ({"GPUS_PER_NODE": 8}, True),
        ({"GPUS_PER_NODE": 8, "DDP_BACKEND": "legacy_ddp"}, False),
        ({"GPUS_PER_NODE": 1}, False),
    ],
)
def test_frozen_encoder_asks_ddp_for_unused_parameters(
    data_bin, tmp_path, no_slurm, env, unused
):
    cmd = _launch("2stage-bart-12e12d", data_bin, tmp_path, PRECISION="bf16", **env)
    assert ("--find-unused-parameters" in cmd) == unused
    plain = _launch("bart-12e12d", data_bin, tmp_path, PRECISION="bf16", **env)
    assert "--find-unused-parameters" not in plain


@pytest.mark.parametrize(
    "env,unused",
    [
        ({"GPUS_PER_NODE": 8}, True),
        ({"GPUS_PER_NODE": 8, "OBJECTIVE_SCHEDULE": "sum"}, False),
        ({"GPUS_PER_NODE": 8, "DDP_BACKEND": "legacy_ddp"}, False),
        ({"GPUS_PER_NODE": 1}, False),
    ],
)
def test_joint_updates_ask_ddp_for_unused_parameters(
    data_bin, tmp_path, no_slurm, env, unused
):
    """Recipe 3: an update of one objective leaves the decoder or the MLM head without a
    gradient; with both every update (sum), every parameter has one."""
    cmd = _launch("bart-12e12d-joint", data_bin, tmp_path, PRECISION="bf16", **env)
    assert ("--find-unused-parameters" in cmd) == unused
    assert _option(cmd, "--objective-schedule") == env.get(
        "OBJECTIVE_SCHEDULE", "alternate"
    )
    assert float(_option(cmd, "--mlm-share")) == pytest.approx(1 / 6)
    assert [_option(cmd, o) for o in ("--mlm-weight", "--denoising-weight")] == [
        "1.0",
        "1.0",
    ]
    assert _option(cmd, "--max-update") == "600000"


@pytest.mark.parametrize(
    "env,message",
    [
        (
            {"LAUNCHER": "fairseq", "GPUS_PER_NODE": 8, "NODES": 2},
            "error: LAUNCHER=fairseq starts processes on this machine only (NODES=2): use "
            "torchrun or srun",
        ),
        (
            {"LAUNCHER": "mpirun"},
            "error: LAUNCHER=mpirun: expected fairseq, torchrun or slurm",
        ),
        (
            {"PRECISION": "fp16"},
            "error: PRECISION=fp16 needs GPUS_PER_NODE > 0 (CPU runs are fp32)",
        ),
        (
            {"GPUS_PER_NODE": 1, "PRECISION": "fp8"},
            "error: PRECISION=fp8: expected bf16, fp16, "
            "memory-efficient-bf16, memory-efficient-fp16 or fp32",
        ),
    ],
)
def test_bad_hardware_settings_are_one_line_errors(
    data_bin, tmp_path, no_slurm, env, message
):
    proc = _launch("roberta-12e", data_bin, tmp_path, check=False, **env)
    assert proc.returncode == 2 and proc.stderr.strip() == message
    assert not (tmp_path / "roberta-12e").exists()
