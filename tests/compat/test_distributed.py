"""The plugin's fixes to fairseq 0.12's distributed path and --bf16 (compat/distributed.py).

Each fix has a test pinning the stock behaviour it replaces (on fairseq's own function as
it was before the plugin loaded): if fairseq changes, that test fails and the fix can go.
"""

import argparse

import pytest
import torch
from helpers import PLUGIN

import fairseq_recipes  # noqa: F401  (installs the fixes)
from fairseq_recipes.compat import distributed

TORCHRUN = {
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29511",
    "WORLD_SIZE": "2",
    "RANK": "1",
    "LOCAL_RANK": "1",
}


def _dist_cfg(**overrides):
    from fairseq.dataclass.configs import DistributedTrainingConfig

    cfg = DistributedTrainingConfig()
    cfg.tpu = False
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture
def torchrun_env(monkeypatch):
    for key, value in TORCHRUN.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_stock_fairseq_ignores_torchrun_at_world_size_one(torchrun_env):
    cfg = _dist_cfg(distributed_world_size=1)
    distributed.ORIGINALS["infer_init_method"](cfg)
    assert cfg.distributed_init_method is None  # every rank would train alone


def test_stock_fairseq_divides_by_the_gpu_count_under_torchrun(torchrun_env):
    with pytest.raises(ZeroDivisionError):
        distributed.ORIGINALS["torchrun_init"](_dist_cfg(distributed_world_size=2))


def test_torchrun_without_gpus_joins_the_group(torchrun_env):
    from fairseq.distributed import utils

    cfg = _dist_cfg(distributed_world_size=1)
    utils.infer_init_method(cfg)
    assert cfg.distributed_init_method == "env://"
    assert (cfg.distributed_world_size, cfg.distributed_rank) == (2, 1)
    assert cfg.device_id == 0 and cfg.distributed_no_spawn


def test_torchrun_with_gpus_uses_the_local_rank(torchrun_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    monkeypatch.setenv("RANK", "9")  # node 1 of 8 GPUs each
    cfg = _dist_cfg()
    distributed._torchrun_init(cfg)
    assert (cfg.distributed_rank, cfg.device_id) == (9, 1)


def _train_cfg(*args):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    argv = [
        "/nonexistent",
        "--user-dir",
        str(PLUGIN),
        "--arch",
        "roberta_base",
        "--task",
        "masked_lm",
        *args,
    ]
    args = options.parse_args_and_arch(parser, argv)
    return args, convert_namespace_to_omegaconf(args)


def test_stock_fairseq_turns_bf16_into_tpu():
    args, _ = _train_cfg("--bf16", "--cpu")
    assert args.bf16 and args.tpu  # fairseq/options.py: `if args.bf16: args.tpu = True`


def test_bf16_without_torch_xla_trains_off_tpu(monkeypatch):
    _, cfg = _train_cfg("--bf16")
    distributed.fix_config(cfg)
    assert cfg.common.bf16 and not cfg.common.tpu and not cfg.distributed_training.tpu
    # where torch_xla exists, --bf16 keeps fairseq's meaning (a TPU run)
    monkeypatch.setattr(distributed, "xla_available", lambda: True)
    _, cfg = _train_cfg("--bf16")
    distributed.fix_config(cfg)
    assert cfg.common.tpu


def test_cpu_runs_communicate_with_gloo():
    _, cfg = _train_cfg("--cpu", "--distributed-world-size", "2")
    assert cfg.distributed_training.distributed_backend == "nccl"  # fairseq's default
    distributed.fix_config(cfg)
    assert cfg.distributed_training.distributed_backend == "gloo"
    _, cfg = _train_cfg("--cpu", "--distributed-backend", "mpi")
    distributed.fix_config(cfg)
    assert cfg.distributed_training.distributed_backend == "mpi"  # an explicit choice


@pytest.fixture
def one_rank_group(tmp_path):
    store = f"file://{tmp_path / 'store'}"
    torch.distributed.init_process_group("gloo", init_method=store, world_size=1, rank=0)
    yield
    torch.distributed.destroy_process_group()


def _ddp_args():
    return argparse.Namespace(
        tpu=False,
        ddp_backend="c10d",
        device_id=0,
        broadcast_buffers=False,
        bucket_cap_mb=25,
        find_unused_parameters=True,
        gradient_as_bucket_view=False,
        ddp_comm_hook="none",
    )


def test_stock_ddp_rejects_a_cpu_module_with_device_ids(one_rank_group, monkeypatch):
    from fairseq.models import distributed_fairseq_model as dfm

    monkeypatch.setattr(dfm, "DistributedDataParallel", distributed.ORIGINALS["ddp"])
    with pytest.raises(ValueError, match="device_ids"):
        dfm.DistributedFairseqModel(_ddp_args(), torch.nn.Linear(2, 2), None, "cpu")


def test_c10d_wraps_a_cpu_module_and_reduces_its_gradients(one_rank_group):
    from fairseq.models import DistributedFairseqModel

    model = torch.nn.Linear(2, 2)
    wrapped = DistributedFairseqModel(_ddp_args(), model, None, "cpu")
    wrapped(torch.ones(1, 2)).sum().backward()
    assert torch.equal(model.bias.grad, torch.ones(2))
    assert wrapped.module.device_ids is None


def test_install_is_idempotent():
    from fairseq.distributed import utils

    before = utils.call_main
    distributed.install()
    assert utils.call_main is before


def test_bf16_trains_end_to_end_off_tpu(data_bin, tmp_path):
    """fairseq-train --bf16 through a train script, on CPU here: stock fairseq fails
    (it asks torch_xla for a device); fairseq keeps bf16's fp32 master weights per
    parameter (never flat)."""
    from helpers import final_updates, train_losses, train_script

    proc = train_script(
        "roberta-12e", data_bin, tmp_path / "bf16", "--bf16", UPDATES=4, LOG_INTERVAL=1
    )
    out = proc.stdout + proc.stderr
    assert "'bf16': True" in out and "'tpu': False" in out
    assert final_updates(out) == 4 and len(train_losses(out)) == 4
    state = torch.load(tmp_path / "bf16" / "checkpoint_last.pt")
    # fairseq's mixed-precision wrapper trained it (the checkpoint itself is saved in fp32)
    assert state["optimizer_history"][-1]["optimizer_name"] == "FP16Optimizer"
