"""fairseq weights and arguments -> transformers configs and state dicts.

Two stock transformers classes express this project's models exactly:

* ``roberta_12e`` (and recipe 1's encoder) is ``RobertaPreLayerNormForMaskedLM``: the same
  embeddings (token + learned position, positions counted from ``pad + 1`` over non-pad
  tokens as fairseq's ``make_positions``), layer norm on the embeddings, PreLayerNorm
  blocks, a final layer norm, and RoBERTa's MLM head (dense, GELU, layer norm, output
  projection + bias), tied to the input embeddings or not as trained. transformers' one
  token type embedding is exported as zeros.
* ``bart_12eNd`` and recipe 2's two-stage models are ``MBartForConditionalGeneration``:
  mBART is BART with PreLayerNorm blocks and a final layer norm in encoder and decoder,
  which is what these models are. Any decoder depth; the output projection tied to the
  embeddings (``tie_word_embeddings``) only where fairseq shares them
  (``--share-all-embeddings``), else every matrix is written on its own.

Every layer norm of these classes has its fairseq counterpart in the project's models. A
model without one (trained without ``--layernorm-embedding``, say) is refused: the stock
classes always apply their layer norms, and a layer norm of weight 1 and bias 0 is not the
identity: it still normalizes. So is anything else the stock classes cannot express
(post-LayerNorm blocks, sinusoidal positions, attention fusion, an activation transformers
lacks, a tensor this mapping does not know): a one-line
:class:`~fairseq_recipes.errors.RecipesError`, never a silently different model.
"""

from typing import Dict, Tuple

import torch

from ..checkpoints.encoder_state import (
    DECODER_PREFIX,
    MLM_ENCODER_PREFIX,
    MLM_HEAD_PREFIX,
    SEQ2SEQ_ENCODER_PREFIX,
    arg_value,
)
from ..errors import RecipesError

#: fairseq --activation-fn -> transformers' name of the same function
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_accurate": "gelu_new",
    "gelu_fast": "gelu_new",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}
#: fairseq's LayerNorm (torch's default epsilon)
LAYER_NORM_EPS = 1e-5
#: fairseq's learned positions start at padding_idx + 1 (pad = 1); mBART's at 2
POSITION_OFFSET = 2
#: fairseq-generate's defaults (--max-len-b, --min-len, --beam, --lenpen)
FAIRSEQ_MAX_LEN_B, FAIRSEQ_MIN_LEN, FAIRSEQ_BEAM, FAIRSEQ_LENPEN = 200, 1, 5, 1.0

_ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")
_ROBERTA_ATTENTION = {
    "q_proj": "attention.self.query",
    "k_proj": "attention.self.key",
    "v_proj": "attention.self.value",
    "out_proj": "attention.output.dense",
}
_ROBERTA_LAYER = {
    "self_attn_layer_norm": "attention.LayerNorm",
    "final_layer_norm": "intermediate.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
}


class _Weights:
    """The checkpoint's tensors, each to be used once: ``take`` removes it, and
    ``check_all_used`` refuses what no rule consumed (a structure this mapping does not
    know)."""

    def __init__(self, path, model: Dict[str, torch.Tensor], dtype, target: str):
        self.path, self.dtype, self.target = path, dtype, target
        self.tensors = {k: v for k, v in model.items() if not k.endswith(".version")}

    def take(self, key, default=None):
        tensor = self.tensors.pop(key, default)
        if tensor is None:
            raise RecipesError(f"{self.path}: the checkpoint has no tensor {key}")
        return tensor.detach().to(self.dtype).clone()

    def norm(self, prefix):
        """A layer norm's weight and bias; a model without this layer norm is refused."""
        if f"{prefix}.weight" not in self.tensors:
            raise RecipesError(
                f"{self.path}: the model has no layer norm {prefix} (trained without "
                f"--layernorm-embedding?); {self.target} always applies one, and one of "
                "weight 1 and bias 0 still normalizes, so the export would compute "
                "another function"
            )
        return self.linear(prefix)

    def linear(self, prefix):
        """A module's weight and bias."""
        return {
            "weight": self.take(f"{prefix}.weight"),
            "bias": self.take(f"{prefix}.bias"),
        }

    def check_all_used(self):
        left = sorted(self.tensors)
        if left:
            raise RecipesError(
                f"{self.path}: the checkpoint has tensors {self.target} cannot hold "
                f"({', '.join(left[:4])}{', ...' if len(left) > 4 else ''})"
            )


def _put(out, prefix, params: dict):
    for name, tensor in params.items():
        out[f"{prefix}.{name}"] = tensor


def _require(path, args, name, expected, option, why):
    value = arg_value(args, name)
    if value is not None and value != expected:
        raise RecipesError(f"{path}: {option} is {value}; {why}")


def _activation(path, args) -> str:
    fn = arg_value(args, "activation_fn") or "relu"
    if fn not in ACTIVATIONS:
        raise RecipesError(
            f"{path}: --activation-fn {fn} has no transformers equivalent "
            f"(supported: {', '.join(ACTIVATIONS)})"
        )
    return ACTIVATIONS[fn]


def _layer_count(model: dict, prefix: str) -> int:
    ids = {int(k[len(prefix) :].split(".")[0]) for k in model if k.startswith(prefix)}
    return max(ids) + 1 if ids else 0


def _common_checks(path, args, sides=("encoder",)):
    for side in sides:
        _require(
            path,
            args,
            f"{side}_normalize_before",
            True,
            f"--{side}-normalize-before",
            "post-LayerNorm blocks have no stock transformers class",
        )
        _require(
            path,
            args,
            f"{side}_learned_pos",
            True,
            f"--{side}-learned-pos",
            "sinusoidal positions have no stock transformers class",
        )
    for name in ("adaptive_input", "quant_noise_pq"):
        if arg_value(args, name):
            raise RecipesError(f"{path}: --{name.replace('_', '-')} is not exportable")


def roberta(path, model: dict, args, dtype=torch.float32) -> Tuple[dict, dict]:
    """(config kwargs, state dict) of ``RobertaPreLayerNormForMaskedLM``."""
    _common_checks(path, args)
    _require(
        path,
        args,
        "no_scale_embedding",
        True,
        "--no-scale-embedding",
        "RoBERTa does not scale its embeddings",
    )
    if f"{MLM_HEAD_PREFIX}dense.weight" not in model:
        arch = arg_value(args, "arch") or arg_value(args, "_name")
        raise RecipesError(
            f"{path}: no MLM head ({MLM_HEAD_PREFIX}*): a fine-tuned encoder ({arch})? "
            "Exported are MLM checkpoints (roberta_12e, recipe 1's), with their head"
        )
    activation = _activation(path, args)
    if activation != "gelu":  # transformers' RoBERTa MLM head applies GELU, always
        raise RecipesError(f"{path}: the MLM head of transformers' RoBERTa needs GELU")
    w = _Weights(path, model, dtype, "RobertaPreLayerNormForMaskedLM")
    s, r = MLM_ENCODER_PREFIX, "roberta_prelayernorm"
    embed = w.take(f"{s}embed_tokens.weight")
    vocab, dim = embed.shape
    positions = w.take(f"{s}embed_positions.weight")
    out = {
        f"{r}.embeddings.word_embeddings.weight": embed,
        f"{r}.embeddings.position_embeddings.weight": positions,
        f"{r}.embeddings.token_type_embeddings.weight": torch.zeros(1, dim, dtype=dtype),
    }
    _put(out, f"{r}.embeddings.LayerNorm", w.norm(f"{s}layernorm_embedding"))
    layers = _layer_count(model, f"{s}layers.")
    for i in range(layers):
        src, dst = f"{s}layers.{i}", f"{r}.encoder.layer.{i}"
        for name in _ATTENTION:
            _put(
                out,
                f"{dst}.{_ROBERTA_ATTENTION[name]}",
                w.linear(f"{src}.self_attn.{name}"),
            )
        for name, target in _ROBERTA_LAYER.items():
            key = f"{src}.{name}"
            params = w.norm(key) if name.endswith("norm") else w.linear(key)
            _put(out, f"{dst}.{target}", params)
    _put(out, f"{r}.LayerNorm", w.norm(f"{s}layer_norm"))
    h = MLM_HEAD_PREFIX
    _put(out, "lm_head.dense", w.linear(f"{h}dense"))
    _put(out, "lm_head.layer_norm", w.norm(f"{h}layer_norm"))
    tied = not arg_value(args, "untie_weights_roberta")
    projection = w.take(f"{h}weight")
    if tied and not torch.equal(projection, embed):
        raise RecipesError(
            f"{path}: the MLM head is tied to the embeddings by the model's arguments "
            "but its weights differ from them"
        )
    out["lm_head.decoder.weight"] = projection
    out["lm_head.bias"] = w.take(f"{h}bias")
    out["lm_head.decoder.bias"] = out["lm_head.bias"]
    w.check_all_used()
    heads = arg_value(args, "encoder_attention_heads")
    config = dict(
        vocab_size=vocab,
        hidden_size=dim,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=out[f"{r}.encoder.layer.0.intermediate.dense.weight"].shape[0],
        hidden_act=activation,
        max_position_embeddings=positions.shape[0],
        type_vocab_size=1,
        layer_norm_eps=LAYER_NORM_EPS,
        hidden_dropout_prob=arg_value(args, "dropout") or 0.0,
        attention_probs_dropout_prob=arg_value(args, "attention_dropout") or 0.0,
        tie_word_embeddings=tied,
    )
    return config, out


def _mbart_stack(w: _Weights, side: str, dim: int, out: dict) -> int:
    src, dst = side + ".", f"model.{side}"
    out[f"{dst}.embed_positions.weight"] = w.take(f"{src}embed_positions.weight")
    _put(out, f"{dst}.layernorm_embedding", w.norm(f"{src}layernorm_embedding"))
    _put(out, f"{dst}.layer_norm", w.norm(f"{src}layer_norm"))
    layers = _layer_count(w.tensors, f"{src}layers.")
    attentions = ("self_attn", "encoder_attn") if side == "decoder" else ("self_attn",)
    for i in range(layers):
        a, b = f"{src}layers.{i}", f"{dst}.layers.{i}"
        for attention in attentions:
            for name in _ATTENTION:
                _put(out, f"{b}.{attention}.{name}", w.linear(f"{a}.{attention}.{name}"))
            _put(
                out, f"{b}.{attention}_layer_norm", w.norm(f"{a}.{attention}_layer_norm")
            )
        for name in ("fc1", "fc2"):
            _put(out, f"{b}.{name}", w.linear(f"{a}.{name}"))
        _put(out, f"{b}.final_layer_norm", w.norm(f"{a}.final_layer_norm"))
    return layers


def mbart(path, model: dict, args, dtype=torch.float32) -> Tuple[dict, dict]:
    """(config kwargs, state dict) of ``MBartForConditionalGeneration``."""
    if any(k.startswith(f"{DECODER_PREFIX}layer_fusion.") for k in model):
        raise RecipesError(
            f"{path}: an attention-fusion model (--cross-attention fusion): its decoder "
            "attends to a learned mixture of all encoder layers, which no stock "
            "transformers class computes; it is not exported (the standard recipe-2 "
            "and bart_12eNd models are)"
        )
    _common_checks(path, args, ("encoder", "decoder"))
    w = _Weights(path, model, dtype, "MBartForConditionalGeneration")
    e, d = SEQ2SEQ_ENCODER_PREFIX, DECODER_PREFIX
    encoder_embed = w.take(f"{e}embed_tokens.weight")
    decoder_embed = w.take(f"{d}embed_tokens.weight")
    vocab, dim = encoder_embed.shape
    if decoder_embed.shape != encoder_embed.shape:
        raise RecipesError(
            f"{path}: encoder and decoder embeddings differ in shape "
            f"({tuple(encoder_embed.shape)} vs {tuple(decoder_embed.shape)}); mBART has one"
        )
    projection = w.take(f"{d}output_projection.weight", decoder_embed)
    tied = bool(arg_value(args, "share_all_embeddings"))
    if tied and not (
        torch.equal(encoder_embed, decoder_embed)
        and torch.equal(decoder_embed, projection)
    ):
        raise RecipesError(
            f"{path}: --share-all-embeddings is set but the embeddings differ"
        )
    out = {
        "model.shared.weight": encoder_embed,
        "model.encoder.embed_tokens.weight": encoder_embed,
        "model.decoder.embed_tokens.weight": decoder_embed,
        "lm_head.weight": projection,
        "final_logits_bias": torch.zeros(1, vocab, dtype=dtype),
    }
    encoder_layers = _mbart_stack(w, "encoder", dim, out)
    decoder_layers = _mbart_stack(w, "decoder", dim, out)
    w.check_all_used()
    rows = out["model.encoder.embed_positions.weight"].shape[0]
    if out["model.decoder.embed_positions.weight"].shape[0] != rows:
        raise RecipesError(
            f"{path}: --max-source-positions and --max-target-positions differ; mBART "
            "has one max_position_embeddings"
        )
    scale = not arg_value(args, "no_scale_embedding")
    config = dict(
        vocab_size=vocab,
        d_model=dim,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        encoder_attention_heads=arg_value(args, "encoder_attention_heads"),
        decoder_attention_heads=arg_value(args, "decoder_attention_heads"),
        encoder_ffn_dim=out["model.encoder.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=out["model.decoder.layers.0.fc1.weight"].shape[0],
        activation_function=_activation(path, args),
        max_position_embeddings=rows - POSITION_OFFSET,
        scale_embedding=scale,
        dropout=arg_value(args, "dropout") or 0.0,
        attention_dropout=arg_value(args, "attention_dropout") or 0.0,
        activation_dropout=arg_value(args, "activation_dropout") or 0.0,
        tie_word_embeddings=tied,
    )
    return config, out


def fairseq_generation(eos: int, pad: int, max_target_positions: int) -> dict:
    """generate() settings that search as fairseq-generate does by default: beam 5,
    length-normalized scores (--lenpen 1), a sentence done when it has beam-size
    finished hypotheses, at least one token before </s> (--min-len 1), at most 200
    (--max-len-b, capped by the positions), </s> forced at the limit, <pad> never
    generated; decoding starts from </s>, as fairseq's does."""
    max_len = min(FAIRSEQ_MAX_LEN_B, max_target_positions - 1)
    return dict(
        decoder_start_token_id=eos,
        forced_eos_token_id=eos,
        num_beams=FAIRSEQ_BEAM,
        length_penalty=FAIRSEQ_LENPEN,
        early_stopping=True,
        # lengths count the start token: max_len tokens, then </s>
        max_length=max_len + 2,
        min_length=FAIRSEQ_MIN_LEN + 1,
        suppress_tokens=[pad],
    )
