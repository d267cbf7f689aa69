"""The encoder inside a fairseq checkpoint: what kind of model it is, its shape, its weights.

Both recipes move an encoder between model families. fairseq's RoBERTa keeps it under
``encoder.sentence_encoder.*`` (plus an MLM head under ``encoder.lm_head.*``); BART and
this project's two-stage models under ``encoder.*`` (plus a decoder). Both are fairseq's
``TransformerEncoder``, so once the prefix is remapped the weights are interchangeable.
Every check here raises :class:`~fairseq_recipes.errors.RecipesError` with one line that
names the file and the problem.
"""

import hashlib
import os
from typing import Dict, Optional

import torch

from ..compat.safe_checkpoints import DamagedCheckpointError, UnsafeCheckpointError
from ..errors import RecipesError

MLM_ENCODER_PREFIX = "encoder.sentence_encoder."
MLM_HEAD_PREFIX = "encoder.lm_head."
SEQ2SEQ_ENCODER_PREFIX = "encoder."
DECODER_PREFIX = "decoder."
#: recipe 3's joint model: a seq2seq model with an MLM head on its encoder
JOINT_MLM_HEAD_PREFIX = "mlm_head."
#: the two models a joint run writes beside its checkpoints (``joint_views.py``)
JOINT_VIEWS_HINT = (
    "use the encoder_last.pt or seq2seq_last.pt that its run wrote beside it"
)

#: (argument, what a user passes to change it): the shape both encoders must agree on
ENCODER_SHAPE_ARGS = (
    ("encoder_layers", "--encoder-layers"),
    ("encoder_embed_dim", "--encoder-embed-dim"),
    ("encoder_ffn_embed_dim", "--encoder-ffn-embed-dim"),
    ("encoder_attention_heads", "--encoder-attention-heads"),
    ("encoder_normalize_before", "--encoder-normalize-before"),
    ("layernorm_embedding", "--layernorm-embedding"),
    ("no_scale_embedding", "--no-scale-embedding"),
    ("activation_fn", "--activation-fn"),
)

#: task state key under which this project's tasks record their dictionary
DICTIONARY_STATE_KEY = "recipes_dictionary"


def load(path) -> dict:
    """A fairseq checkpoint on CPU (weights-only, through fairseq's loader)."""
    from fairseq import checkpoint_utils

    path = str(path)
    if not os.path.isfile(path):
        raise RecipesError(f"{path}: no such checkpoint file")
    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(path)
    except (
        UnsafeCheckpointError,
        DamagedCheckpointError,
    ) as err:  # one line, the file named
        raise RecipesError(str(err)) from None
    except Exception as err:  # truncated file, not a torch file, ...
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RecipesError(
            f"{path}: not a readable fairseq checkpoint ({first})"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise RecipesError(f"{path}: not a fairseq checkpoint (no 'model' weights)")
    return state


def kind(state: dict) -> str:
    """``mlm`` (RoBERTa-style encoder), ``seq2seq`` (encoder-decoder), ``joint`` (recipe
    3's training checkpoint: an encoder-decoder with an MLM head) or ``unknown``."""
    keys = state["model"].keys()
    if any(k.startswith(MLM_ENCODER_PREFIX) for k in keys):
        return "mlm"
    if any(k.startswith(DECODER_PREFIX) for k in keys) and any(
        k.startswith(SEQ2SEQ_ENCODER_PREFIX) for k in keys
    ):
        if any(k.startswith(JOINT_MLM_HEAD_PREFIX) for k in keys):
            return "joint"
        return "seq2seq"
    return "unknown"


def expect_kind(state: dict, path, expected: str, hint: str = "") -> None:
    found = kind(state)
    if found == expected:
        return
    names = {
        "mlm": "an MLM (RoBERTa-style) checkpoint",
        "seq2seq": "a seq2seq checkpoint",
        "joint": "recipe 3's joint training checkpoint",
    }
    what = names.get(found, "neither an MLM nor a seq2seq checkpoint")
    if found == "joint":
        hint = JOINT_VIEWS_HINT
    raise RecipesError(
        f"{path}: is {what}, but {names[expected]} is expected here"
        + (f"; {hint}" if hint else "")
    )


def model_args(state: dict):
    """The model's arguments (an ``argparse.Namespace`` or a config), or None."""
    cfg = state.get("cfg")
    model = cfg.get("model") if hasattr(cfg, "get") else None
    if model is None and state.get("args") is not None:
        model = state["args"]
    return model


def encoder_weights(state: dict) -> Dict[str, torch.Tensor]:
    """The encoder's weights in ``TransformerEncoder`` key space (no prefix, no head)."""
    prefix = MLM_ENCODER_PREFIX if kind(state) == "mlm" else SEQ2SEQ_ENCODER_PREFIX
    return {
        k[len(prefix) :]: v
        for k, v in state["model"].items()
        if k.startswith(prefix) and not k.startswith(MLM_HEAD_PREFIX)
    }


def check_same_keys(path, ours: dict, weights: dict) -> None:
    """The checkpoint's encoder weights name exactly this model's encoder parameters."""
    missing = sorted(set(ours) - set(weights))
    unexpected = sorted(set(weights) - set(ours))
    if missing or unexpected:
        raise RecipesError(
            f"{path}: the checkpoint's encoder does not match this model's "
            f"(missing: {', '.join(missing[:4]) or 'none'}; "
            f"unexpected: {', '.join(unexpected[:4]) or 'none'})"
        )


def check_encoder_shape(source_args, target_args, path) -> None:
    """The encoder of ``path`` (``source_args``) has the shape requested here."""
    if source_args is None:
        return  # no arguments stored: the strict weight load is the check
    for name, option in ENCODER_SHAPE_ARGS:
        theirs = arg_value(source_args, name)
        ours = arg_value(target_args, name)
        if theirs is None or ours is None:
            continue
        if theirs != ours:
            raise RecipesError(
                f"{path}: the checkpoint's encoder has {name}={theirs}, but this model "
                f"has {ours} ({option}); the encoder shape must match the checkpoint's"
            )


def arg_value(args, name):
    value = getattr(args, name, None)
    if value is None and hasattr(args, "get"):
        value = args.get(name)
    return value


def dictionary_fingerprint(dictionary) -> dict:
    """Size and a hash of the symbols in order: what must match between two models."""
    digest = hashlib.sha256("\n".join(dictionary.symbols).encode("utf-8")).hexdigest()
    return {"size": len(dictionary), "sha256": digest}


def check_dictionary(state: dict, path, dictionary, embed_rows: int) -> None:
    """The checkpoint was trained with ``dictionary`` (same size and symbols)."""
    if embed_rows != len(dictionary):
        raise RecipesError(
            f"{path}: the checkpoint's dictionary has {embed_rows} symbols but the "
            f"data's has {len(dictionary)}; both models must share one dictionary"
        )
    recorded = _recorded_fingerprint(state)
    if recorded is not None and recorded != dictionary_fingerprint(dictionary):
        raise RecipesError(
            f"{path}: the checkpoint's dictionary has the same size as the data's but "
            "different symbols; both models must share one dictionary (dict.txt)"
        )


def recorded_data(state: dict) -> Optional[str]:
    """The first folder of the checkpoint's ``--data`` (fairseq reads dict.txt there),
    or None when it records none."""
    cfg = state.get("cfg") or {}
    task_cfg = cfg.get("task") if hasattr(cfg, "get") else None
    data = arg_value(task_cfg, "data") if task_cfg is not None else None
    return str(data).split(os.pathsep)[0] if data else None


def _recorded_fingerprint(state: dict) -> Optional[dict]:
    """The fingerprint a checkpoint of this project records, else one of the dict.txt
    its training data names (when that file still exists), else None."""
    task_state = state.get("task_state") or {}
    if DICTIONARY_STATE_KEY in task_state:
        return dict(task_state[DICTIONARY_STATE_KEY])
    data = recorded_data(state)
    if data is None:
        return None
    dict_path = os.path.join(data, "dict.txt")
    if not os.path.isfile(dict_path):
        return None
    from ..preprocessing.vocab import load_dictionary

    # the symbols the project's tasks append when loading, as they would
    return dictionary_fingerprint(load_dictionary(dict_path))
