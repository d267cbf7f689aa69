"""Recipe 3's two models, written beside every checkpoint its run saves.

A joint run (``bart_12e12d_joint``) trains one set of weights that holds both models. So
that nothing has to be extracted by hand, every save also writes, next to the checkpoint:

* ``encoder_last.pt``: a ``roberta_12e`` checkpoint (the encoder under
  ``encoder.sentence_encoder.*``, the MLM head under ``encoder.lm_head.*`` with its
  projection tied to the embeddings, as trained), what ``roberta-12e`` writes: the encoder
  evaluations (``recipes-finetune``), ``recipes-export-hf`` (RoBERTa-PreLayerNorm with its
  MLM head), ``recipes-cost --checkpoints`` and ``fairseq-validate --task recipes_mlm``
  take it;
* ``seq2seq_last.pt``: a ``bart_12e12d`` checkpoint (everything but the MLM head), what
  ``bart-12e12d`` writes: mTOP and XSUM fine-tuning, ``fairseq-generate``, the export
  (mBART) take it.

Both hold the run's weights at that save (the same values as its ``checkpoint_last.pt``),
its update count and its task state, the compute ledger included (the cost of the run
that made both models), but no optimizer state: they are models to use, and the run
resumes from its own checkpoints. Each is written under a temporary name in the same
folder and renamed, so a reader never sees half a file.
"""

import dataclasses
from argparse import Namespace
from pathlib import Path
from typing import List

from ..atomic_files import torch_save
from . import encoder_state
from .extract_encoder import _cfg as mlm_cfg

ENCODER_VIEW = "encoder_last.pt"
SEQ2SEQ_VIEW = "seq2seq_last.pt"
MLM_HEAD_PREFIX = "mlm_head."  # the joint model's MLM head


def _seq2seq_cfg(cfg: dict) -> dict:
    """bart_12e12d's configuration, keeping the data and noise settings of the run."""
    from ..tasks.span_denoising import SpanDenoisingConfig

    cfg = dict(cfg)
    values = {k: v for k, v in vars(cfg["model"]).items()}
    values.update(
        arch="bart_12e12d",
        _name="bart_12e12d",
        task="recipes_span_denoising",
        criterion="cross_entropy",
    )
    cfg["model"] = Namespace(**values)
    fields = {f.name for f in dataclasses.fields(SpanDenoisingConfig)}
    task = {k: v for k, v in dict(cfg.get("task") or {}).items() if k in fields}
    cfg["task"] = {**task, "_name": "recipes_span_denoising"}
    cfg["criterion"] = {"_name": "cross_entropy", "sentence_avg": False}
    return cfg


def views(state: dict) -> dict:
    """{file name: checkpoint state} of the two models in a joint run's ``state`` (its
    ``cfg``, ``model``, ``task_state`` and ``num_updates`` at least)."""
    weights, updates = state["model"], state["num_updates"]
    mlm = encoder_state.MLM_ENCODER_PREFIX
    encoder = {
        f"{mlm}{k[len('encoder.'):]}": v
        for k, v in weights.items()
        if k.startswith("encoder.")
    }
    encoder.update(
        {
            f"{encoder_state.MLM_HEAD_PREFIX}{k[len(MLM_HEAD_PREFIX):]}": v
            for k, v in weights.items()
            if k.startswith(MLM_HEAD_PREFIX)
        }
    )
    seq2seq = {k: v for k, v in weights.items() if not k.startswith(MLM_HEAD_PREFIX)}
    out = {}
    for name, model, cfg, criterion in [
        (
            ENCODER_VIEW,
            encoder,
            mlm_cfg({"cfg": state["cfg"]}, untie=False),
            "MaskedLmLoss",
        ),
        (SEQ2SEQ_VIEW, seq2seq, _seq2seq_cfg(state["cfg"]), "CrossEntropyCriterion"),
    ]:
        out[name] = {
            "args": None,
            "cfg": cfg,
            "model": model,
            "criterion": None,
            "optimizer_history": [
                {
                    "criterion_name": criterion,
                    "optimizer_name": "none",
                    "lr_scheduler_state": {},
                    "num_updates": updates,
                }
            ],
            "task_state": dict(state.get("task_state") or {}),
            "extra_state": {"derived_from": state.get("derived_from")},
            "last_optimizer_state": None,
        }
    return out


def write_views(trainer, path) -> List[Path]:
    """Write the two models of the run of ``trainer`` beside ``path``, the checkpoint it
    has just saved; returns their paths."""
    from fairseq import utils
    from omegaconf import OmegaConf

    cfg = trainer.cfg
    if OmegaConf.is_config(cfg):
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    state = {
        "cfg": cfg,
        "model": utils.move_to_cpu(trainer.get_model().state_dict()),
        "task_state": trainer.task.state_dict(),
        "num_updates": trainer.get_num_updates(),
        "derived_from": str(path),
    }
    folder = Path(path).parent
    written = []
    for name, view in views(state).items():
        torch_save(view, folder / name)
        written.append(folder / name)
    return written
