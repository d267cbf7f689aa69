"""What a GPU-hour buys: the peak throughput the bill prices with, and the utilisation.

Ours, not the paper's (it states no hardware throughput), so they live here and not in
``paper.py``. Peak figures are the vendors' datasheet numbers for dense BF16 tensor-core
matrix products, the precision the train scripts use on these GPUs:

* A100 (SXM4 and PCIe): 312 TFLOP/s BF16 Tensor Core, dense (624 with structured
  sparsity): NVIDIA A100 Tensor Core GPU datasheet.
* H100 SXM5: 989 TFLOP/s BF16 Tensor Core, dense (the datasheet prints 1,979 "with
  sparsity"; dense is half, 989.5): NVIDIA H100 Tensor Core GPU datasheet.

Model-FLOP utilisation (MFU: the model's FLOPs, as the ledger counts them, over the peak)
is an assumption: 40% by default, a typical figure for well-tuned data-parallel
transformer training at this size (PaLM reports 46.2% on TPUs, Chowdhery et al. 2022);
measure it on the cluster and pass the real one (``--mfu``, or ``[rehearsal] mfu``).
"""

#: peak dense BF16 tensor throughput, FLOP/s
GPU_PEAK_FLOPS = {"A100": 312e12, "H100": 989e12}
#: assumed model-FLOP utilisation
DEFAULT_MFU = 0.40


def gpu_hours(flops: float, gpu: str, mfu: float = DEFAULT_MFU) -> float:
    """GPU-hours of ``flops`` model FLOPs on ``gpu`` at utilisation ``mfu``."""
    if not 0 < mfu <= 1:
        raise ValueError(f"model-FLOP utilisation {mfu} must be in (0, 1]")
    return flops / (GPU_PEAK_FLOPS[gpu] * mfu) / 3600
