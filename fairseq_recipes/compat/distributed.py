"""fairseq 0.12's distributed engine without CUDA, and ``--bf16`` without a TPU.

Stock fairseq 0.12 assumes CUDA in its distributed path and a TPU behind ``--bf16``. The
plugin changes four behaviours, each pinned by ``tests/compat/test_distributed.py``
against the unpatched fairseq code, so a fairseq that fixes one of them fails that test
and the patch can go:

1. **torchrun without GPUs.** ``infer_init_method`` returns at once when
   ``--distributed-world-size`` is 1, its default on a machine without GPUs (the GPU
   count, at least 1), so every rank torchrun started would train alone; and
   ``_infer_torch_distributed_launch_init`` sets ``device_id = rank %
   torch.cuda.device_count()``, a ZeroDivisionError without GPUs. Patched: under torchrun
   (``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK`` set) the world size is
   torchrun's, and the device is ``LOCAL_RANK`` (the process's GPU on its node, which is
   what torchrun means; fairseq's ``RANK % GPUs`` is the same on uniform nodes), 0 without
   GPUs.
2. **The communication backend on CPU.** fairseq's default, NCCL, has no CPU tensors:
   a ``--cpu`` run that asked for NCCL gets gloo (logged).
3. **PyTorch DDP on CPU.** ``DistributedFairseqModel`` passes ``device_ids=[device_id]``,
   which ``DistributedDataParallel`` rejects for a CPU module. Patched: no device ids for
   a module whose parameters are on the CPU (what DDP asks for).
4. **``--bf16`` off TPU.** ``options.parse_args_and_arch`` sets ``--tpu`` whenever
   ``--bf16`` is given, and the trainer then asks ``torch_xla`` for its device
   (``'NoneType' object has no attribute 'xla_device'``). Patched in ``call_main``: when
   ``torch_xla`` cannot be imported the run cannot be on a TPU, so ``tpu`` is reset and
   bf16 runs on CUDA (or CPU) through fairseq's own ``FP16Optimizer`` /
   ``MemoryEfficientFP16Optimizer``, which keep fp32 master weights and use no loss
   scaler for bf16.
"""

import importlib.util
import logging
import os

import torch

logger = logging.getLogger(__name__)

TORCHRUN_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")
#: fairseq's own functions, as they were before ``install`` (the tests pin them)
ORIGINALS = {}


def under_torchrun() -> bool:
    return all(key in os.environ for key in TORCHRUN_ENV)


def xla_available() -> bool:
    return importlib.util.find_spec("torch_xla") is not None


def _torchrun_init(cfg) -> None:
    """fairseq's ``_infer_torch_distributed_launch_init``, with or without GPUs."""
    cfg.distributed_init_method = "env://"
    cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
    cfg.distributed_rank = int(os.environ["RANK"])
    gpus = torch.cuda.device_count()
    local = os.environ.get("LOCAL_RANK")
    if gpus == 0:
        cfg.device_id = 0
    else:
        cfg.device_id = int(local) if local is not None else cfg.distributed_rank % gpus
    cfg.distributed_no_spawn = True  # the processes are torchrun's


def _wrap_infer_init_method(original):
    def infer_init_method(cfg, force_distributed=False):
        if cfg.distributed_init_method is None and not cfg.tpu and under_torchrun():
            # fairseq returns early at world size 1, before it reads torchrun's
            cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
        return original(cfg, force_distributed)

    infer_init_method.__wrapped__ = original
    return infer_init_method


def fix_config(cfg) -> None:
    """Patches 2 and 4 on a parsed fairseq configuration (in place)."""
    from omegaconf import open_dict

    common, dist = cfg.common, cfg.distributed_training
    with open_dict(cfg):
        if common.bf16 and common.tpu and not xla_available():
            logger.info("--bf16 without torch_xla: training on CUDA/CPU, not on a TPU")
            common.tpu = False
            dist.tpu = False
        no_cuda = common.cpu or not torch.cuda.is_available()
        if no_cuda and dist.distributed_backend == "nccl":
            if dist.distributed_world_size > 1 or under_torchrun():
                logger.info("--distributed-backend nccl has no CPU tensors: using gloo")
            dist.distributed_backend = "gloo"


def _wrap_call_main(original):
    def call_main(cfg, main, **kwargs):
        fix_config(cfg)
        return original(cfg, main, **kwargs)

    call_main.__wrapped__ = original
    return call_main


def ddp_for_device(module, device_ids=None, output_device=None, **kwargs):
    """``DistributedDataParallel`` with device ids only for a module on a GPU."""
    from torch.nn.parallel import DistributedDataParallel

    if all(p.device.type == "cpu" for p in module.parameters()):
        device_ids = output_device = None
    return DistributedDataParallel(
        module, device_ids=device_ids, output_device=output_device, **kwargs
    )


def install() -> None:
    """Apply the four patches (idempotent)."""
    from fairseq.distributed import utils as dist_utils
    from fairseq.models import distributed_fairseq_model

    if not hasattr(dist_utils.call_main, "__wrapped__"):
        ORIGINALS.update(
            torchrun_init=dist_utils._infer_torch_distributed_launch_init,
            infer_init_method=dist_utils.infer_init_method,
            call_main=dist_utils.call_main,
            ddp=distributed_fairseq_model.DistributedDataParallel,
        )
        dist_utils._infer_torch_distributed_launch_init = _torchrun_init
        dist_utils.infer_init_method = _wrap_infer_init_method(
            dist_utils.infer_init_method
        )
        dist_utils.call_main = _wrap_call_main(dist_utils.call_main)
        distributed_fairseq_model.DistributedDataParallel = ddp_for_device
