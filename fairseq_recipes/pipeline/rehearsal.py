"""The rehearsal (``configs/rehearsal.toml``, ``make rehearsal``): the paper's shapes on one
ordinary machine, measured, before anyone books a cluster.

The main job runs as always (every Table 1 model through its train script, every
evaluation, the report); a ``[rehearsal]`` table adds:

* after each pre-training stage (``finish_stage``, the job's finish hook), its figures in
  ``checkpoints/<model>/stage.json``: parameters (the model's, and the formula's of
  ``cost/model_shape.py``), peak memory (``runner.py``), the size of
  ``checkpoint_last.pt`` as fairseq wrote it (Adam's state included), seconds per update
  (the median of its updates), and the compute ledger's training FLOPs per 1M-token update
  of each phase (encoder frozen or not; from the per-update log, which must add up to
  the ledger saved in the checkpoint). Then, with ``tidy``, what no later stage reads is
  deleted: ``checkpoint_best.pt``, the interval and epoch checkpoints, recipe 1's
  ``encoder_init.pt``, and Adam's state inside ``checkpoint_last.pt`` (rewritten under a
  temporary name and renamed). Recipes, evaluations, the export and the report read the
  weights, the configuration and the ledger only;
* ``resume``: that stage is killed (SIGKILL) right after its checkpoint at update
  ``resume_after_update`` and the same command is run again; ``finish_stage`` checks that
  it continued from ``checkpoint_last.pt`` at that update to its last update;
* ``export``: ``recipes-export-hf`` of each named model and its logits against fairseq's
  (``export/logit_check.py``);
* ``preflight``: before anything runs, the memory and disk the remaining jobs need,
  estimated from the shapes, against what this machine has; one line when short;
* ``markdown``: the report's section and the table the command prints: one row per stage,
  the evaluations' and exports' resources, then the GPU bill the ledger predicts at the
  paper's scale (``cost/bill.py``) beside the formula's.
"""

import json
import re
import shutil
import statistics
from pathlib import Path
from typing import Dict, Optional

from .. import paper, train_log
from ..atomic_files import torch_save, write_text
from ..cost.bill import bill, bill_rows, bill_title, formula_rates
from ..cost.flops import stage_shape
from ..cost.model_shape import (
    ModelShape,
    count_parameters,
    embedding_params,
    encoder_layer_params,
)
from ..cost.table1 import Width
from ..data.objective_schedule import OBJECTIVES
from ..errors import RecipesError
from ..recipes import SMOKE, STAGES

STAGE_JSON = "stage.json"
GB = 1e9
_PARAMS = re.compile(r"parameters: ([\d,]+) \(formula: ([\d,]+);")
_LOADED = re.compile(r"Loaded checkpoint (\S+) \(epoch \d+ @ (\d+) updates\)")
_INTERRUPTED = "[main job] interrupted on purpose"
#: files of a finished stage that no later stage reads
_REDUNDANT = re.compile(
    r"checkpoint_best\.pt|checkpoint\d+\.pt|checkpoint_\d+_\d+\.pt|" r"encoder_init\.pt"
)


def interrupt_pattern(update: int) -> str:
    """fairseq's log line once the checkpoint of ``update`` is written."""
    return rf"Saved checkpoint \S+ \(epoch \d+ @ {update} updates"


# ---- a finished stage ---------------------------------------------------------------------
def per_update(log_text: str) -> Dict[int, dict]:
    """{update: its train_inner record} (a resumed run's repeated updates: the last)."""
    return train_log.per_update(log_text)


#: the fields recipe 3's criterion logs for an update that trained that objective
OBJECTIVE_FIELDS = {objective: f"{objective}_loss" for objective in OBJECTIVES}


def phase_name(frozen: bool, objectives: str = "") -> str:
    """A phase's name in the rehearsal's records: "frozen", "unfrozen", or recipe 3's
    objectives of the update ("mlm", "denoising", "mlm+denoising")."""
    return objectives or ("frozen" if frozen else "unfrozen")


def phase_key(model: str, name: str) -> tuple:
    """The bill's rate key (``cost/bill.py``) of a phase named by ``phase_name``."""
    frozen = name == "frozen"
    return (model, frozen, "" if name in ("frozen", "unfrozen") else name)


def phase_figures(updates: Dict[int, dict], freeze: int, seq2seq: bool) -> dict:
    """Per phase (``phase_name``): updates, tokens, ledger FLOPs, FLOPs per 1M tokens;
    and the seconds of each update. Needs every update logged."""
    phases, seconds, previous, last = {}, [], 0, 0.0
    for u in sorted(updates):
        if u != previous + 1:
            raise RecipesError(
                f"update {previous + 1} is not in the log: the rehearsal "
                "needs LOG_INTERVAL = 1"
            )
        fields = updates[u]
        frozen = seq2seq and (freeze == -1 or u <= freeze)
        objectives = "+".join(o for o in OBJECTIVES if OBJECTIVE_FIELDS[o] in fields)
        phase = phases.setdefault(
            phase_name(frozen, objectives), dict(updates=0, tokens=0.0, flops=0.0)
        )
        phase["updates"] += 1
        phase["tokens"] += fields["wpb"]
        phase["flops"] += fields["flops"] - last
        seconds.append(fields["train_wall"])
        previous, last = u, fields["flops"]
    for phase in phases.values():
        phase["flops_per_1m_tokens"] = phase["flops"] / phase["tokens"] * 1e6
    return dict(phases=phases, seconds_per_update=seconds, logged_flops=last)


def _load_metadata(path: Path) -> dict:
    """A checkpoint memory-mapped: its tensors are read only when touched."""
    import torch

    import fairseq_recipes  # noqa: F401  (allowlists fairseq's checkpoint classes)

    try:
        return torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
    except Exception as err:
        raise RecipesError(f"{path}: not a readable checkpoint ({err})") from None


def _model_args(state: dict):
    from ..checkpoints.encoder_state import model_args

    return model_args(state)


def finish_stage(job, tidy: bool, resume_after: int = 0) -> None:
    """The figures of a finished pre-training stage, then (``tidy``) its clean-up."""
    from ..checkpoints.encoder_state import arg_value
    from ..cost.ledger import checkpoint_cost

    save_dir = job.done.parent
    model, record = save_dir.name, save_dir / STAGE_JSON
    stage = STAGES[model]
    checkpoint = save_dir / "checkpoint_last.pt"
    if not record.exists():  # not measured yet (a rerun after a crash only tidies)
        log = (save_dir / "train.log").read_text(errors="replace")
        state = _load_metadata(checkpoint)
        args = _model_args(state)
        freeze = arg_value(args, "freeze_encoder_updates") or 0
        figures = phase_figures(per_update(log), freeze, stage.decoder_layers > 0)
        ledger = checkpoint_cost(state)
        if abs(figures["logged_flops"] - ledger.flops) > 1e-4 * ledger.flops:
            raise RecipesError(
                f"{save_dir}: the logged FLOPs ({figures['logged_flops']:.6g}) "
                f"do not add up to the ledger's ({ledger.flops:.6g})"
            )
        counted = _PARAMS.findall(log)
        if not counted:
            raise RecipesError(f"{save_dir / 'train.log'}: no parameter count logged")
        parameters, formula = (int(x.replace(",", "")) for x in counted[-1])
        updates = state["optimizer_history"][-1]["num_updates"]
        rows = next(
            v.shape[0]
            for k, v in state["model"].items()
            if k.endswith("embed_tokens.weight")
        )
        width = Width(
            arg_value(args, "encoder_embed_dim"),
            arg_value(args, "encoder_ffn_embed_dim"),
            rows,
            arg_value(args, "tokens_per_sample")
            or state["cfg"]["task"]["tokens_per_sample"],
        )
        predicted = formula_rates(width)
        resumed = _resumed(job, save_dir, resume_after, updates) if resume_after else None
        resources = json.loads(job.resources.read_text())
        for name, phase in figures["phases"].items():
            phase["formula_per_1m_tokens"] = predicted.get(phase_key(model, name))
        _write_json(
            record,
            dict(
                model=model,
                updates=updates,
                parameters=parameters,
                formula_parameters=formula,
                vocab=rows,
                width=width.hidden,
                checkpoint_bytes=checkpoint.stat().st_size,
                seconds_per_update=statistics.median(figures["seconds_per_update"]),
                update_seconds=figures["seconds_per_update"],
                phases=figures["phases"],
                ledger=dict(tu=ledger.tu, flops=ledger.flops, tokens=ledger.tokens),
                resumed_from=resumed,
                **resources,
            ),
        )
        del state
    if tidy:
        tidy_stage(save_dir)


def _resumed(job, save_dir: Path, update: int, last: int) -> int:
    """Check the stage was interrupted after ``update`` and resumed from it to ``last``."""
    text = job.log.read_text(errors="replace")
    if not job.interrupted.exists() or _INTERRUPTED not in text:
        raise RecipesError(
            f"{save_dir}: rehearsal.resume_after_update {update}: the stage "
            f"never saved a checkpoint at update {update} to stop after"
        )
    after = text.split(_INTERRUPTED, 1)[1]
    loaded = [(Path(p).name, int(n)) for p, n in _LOADED.findall(after)]
    if ("checkpoint_last.pt", update) not in loaded:
        raise RecipesError(
            f"{job.log}: the rerun did not continue from "
            f"checkpoint_last.pt at update {update} ({loaded or 'nothing loaded'})"
        )
    if max(per_update(after)) != last:
        raise RecipesError(f"{job.log}: the resumed run did not reach update {last}")
    return update


def tidy_stage(save_dir: Path) -> None:
    """Delete the files no later stage reads; drop Adam's state from checkpoint_last.pt."""
    for path in save_dir.iterdir():
        if _REDUNDANT.fullmatch(path.name):
            path.unlink()
    checkpoint = save_dir / "checkpoint_last.pt"
    state = _load_metadata(checkpoint)
    if "last_optimizer_state" in state:  # as fairseq's --no-save-optimizer-state saves
        del state["last_optimizer_state"]
        torch_save(state, checkpoint)


def _write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2))


# ---- the export jobs ------------------------------------------------------------------
def export_jobs(plan, model: str) -> list:
    """``recipes-export-hf`` of ``model``, then its logits against fairseq's."""
    from .runner import Job

    hf = plan.work / "hf"
    checkpoint = plan.checkpoint(model)
    export = Job(
        f"export {model}",
        plan.logs / f"export-{model}.log",
        hf / f"{model}.exported",
        argv=plan.module(
            "fairseq_recipes.export.hf_export",
            "--checkpoint",
            checkpoint,
            "--output",
            hf / model,
            "--data",
            plan.data_bin,
            "--overwrite",
        ),
        after=[f"pretrain {model}"],
    )
    check = Job(
        f"check export {model}",
        plan.logs / f"check-export-{model}.log",
        hf / f"{model}.check.json",
        argv=plan.module(
            "fairseq_recipes.export.logit_check",
            "--checkpoint",
            checkpoint,
            "--hf",
            hf / model,
            "--data",
            plan.data_bin,
            "--corpus",
            plan.corpus,
            "--output",
            hf / f"{model}.check.json",
        ),
        after=[export.name],
        finish="fairseq_recipes.pipeline.rehearsal:finish_export",
        finish_args=(plan.cfg.rehearsal.tidy, str(hf / model)),
    )
    return [export, check]


def finish_export(job, tidy: bool, exported: str) -> None:
    """The exported directory is read by the check only."""
    if tidy:
        shutil.rmtree(exported, ignore_errors=True)


# ---- pre-flight ---------------------------------------------------------------------------
def _shape(plan, model: str, vocab: int) -> ModelShape:
    env = plan.cfg.pretrain_env(model)
    smoke = env.get("SMOKE") == "1"
    hidden = int(env.get("EMBED_DIM") or (SMOKE["embed_dim"] if smoke else paper.HIDDEN))
    ffn = int(env.get("FFN_DIM") or (SMOKE["ffn_dim"] if smoke else paper.FFN))
    block = int(
        env.get("TOKENS_PER_SAMPLE")
        or (SMOKE["tokens_per_sample"] if smoke else paper.TOKENS_PER_SAMPLE)
    )
    stage = STAGES[model]
    shape = stage_shape(stage, vocab, hidden, ffn, block)
    untied = stage.untie_output or stage.init_from == "roberta-12e"
    return ModelShape(**{**shape.__dict__, "tied_output": not untied})


def _vocab(plan) -> int:
    """The dictionary's size: the preprocessed data's, or what the configuration asks."""
    manifest = plan.data_bin / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())["vocab_size"]
    from ..preprocessing.vocab import EXTRA_SYMBOLS

    options = plan.cfg.preprocess
    if options.get("dictionary_size"):
        return int(options["dictionary_size"])
    if options.get("spm_model"):
        return paper.VOCAB + len(EXTRA_SYMBOLS)  # XLM-R's, and ours after it
    return int(options.get("vocab_size", 32000)) + 4 + len(EXTRA_SYMBOLS)


def trained_parameters(shape: ModelShape, stage) -> int:
    """Parameters that get gradients and Adam's state at some update of the stage (all
    but an encoder frozen throughout, with its embeddings)."""
    total = count_parameters(shape)
    if stage.freeze_encoder_updates != -1:
        return total
    encoder = shape.encoder_layers * encoder_layer_params(shape)
    return total - encoder - embedding_params(shape)


#: calibrated on the rehearsal's measurements (configs/rehearsal.toml, 512-token
#: forward passes, NUM_WORKERS = 0): roberta-12e peaked at 11.8 GB, bart-12e12d at 16.9 GB
PROCESS_BYTES = 2.75 * GB  # the interpreter, torch, fairseq, the data, allocator slack
ACTIVATION_COPIES = 11  # token x width activations kept per attention block (torch's
#: scaled_dot_product_attention keeps no token x token matrix on CPU)


def stage_memory(shape: ModelShape, stage, tokens_per_forward: int) -> float:
    """Peak resident bytes of training one stage on CPU in fp32 with Adam (no
    data-loading workers): weights, and gradients and Adam's two moments for what
    trains; two dense embedding-sized gradients in flight (the lookups' and the output
    projection's); the output logits, their log-softmax and both gradients; the
    activations of every attention block (a decoder layer has two); the process."""
    total, trained = count_parameters(shape), trained_parameters(shape, stage)
    n, d = tokens_per_forward, shape.hidden
    predicted = n if shape.decoder_layers else paper.MLM_MASK_PROB * n
    blocks = shape.encoder_layers + 2 * shape.decoder_layers
    return (
        PROCESS_BYTES
        + 4 * total
        + 12 * trained
        + 2 * 4 * embedding_params(shape)
        + 3 * 4 * predicted * shape.vocab
        + blocks * ACTIVATION_COPIES * n * d * 4
    )


def _checkpoint_bytes(shape: ModelShape, stage, with_adam: bool) -> float:
    total = count_parameters(shape)
    return 4 * total + (8 * trained_parameters(shape, stage) if with_adam else 0)


def requirements(plan, jobs) -> dict:
    """Peak memory (the largest job's) and peak added disk of ``jobs`` (those still to
    run), estimated from the shapes; with the jobs that set them."""
    vocab, cfg = _vocab(plan), plan.cfg
    tidy = cfg.rehearsal is not None and cfg.rehearsal.tidy
    names = {job.name for job in jobs}
    memory, kept, peak_disk = (0.0, ""), 0.0, (0.0, "")
    for model in [m for m in STAGES if f"pretrain {m}" in names]:
        stage, env = STAGES[model], cfg.pretrain_env(model)
        shape = _shape(plan, model, vocab)
        tokens = int(env.get("MAX_TOKENS", 8192))
        need = stage_memory(shape, stage, tokens)
        if need > memory[0]:
            memory = (need, f"pretrain {model}")
        # fairseq writes one checkpoint per save and links it to the other names
        # (compat/atomic_checkpoints.py); a second save (the resumed stage's) writes
        # the new file beside the old; tidying writes the weights beside the full one
        full = _checkpoint_bytes(shape, stage, with_adam=True)
        weights = _checkpoint_bytes(shape, stage, with_adam=False)
        resumed = cfg.rehearsal is not None and cfg.rehearsal.resume == model
        during = kept + full + (full if resumed else weights if tidy else 0)
        if during > peak_disk[0]:
            peak_disk = (during, f"pretrain {model}")
        kept += weights if tidy else full * (2 if resumed else 1)
    for job in jobs:  # fine-tuning: the model and AdamW for all of it, best weights saved
        if job.name.startswith("evaluate "):
            model = job.name.split()[1]
            shape = _shape(plan, model, vocab)
            need = (
                PROCESS_BYTES + 16 * count_parameters(shape) + 8 * embedding_params(shape)
            )
            if need > memory[0]:
                memory = (need, job.name)
            during = kept + 2 * 4 * count_parameters(shape)
            if during > peak_disk[0]:
                peak_disk = (during, job.name)
    return dict(
        memory=memory[0], memory_job=memory[1], disk=peak_disk[0], disk_job=peak_disk[1]
    )


def available_memory() -> float:
    """Bytes this machine can give a new process now (MemAvailable)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RecipesError("/proc/meminfo has no MemAvailable")


def free_disk(path: Path) -> float:
    path = Path(path)
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def preflight(plan, jobs) -> dict:
    """Stop (RecipesError, one line) when the machine lacks the memory or disk ``jobs``
    need; returns the estimate otherwise."""
    need = requirements(plan, jobs)
    memory, disk = available_memory(), free_disk(plan.work)
    if need["memory"] > memory:
        raise RecipesError(
            f"not enough memory: {need['memory_job']} needs about {need['memory'] / GB:.1f} "
            f"GB (fp32 weights, gradients, Adam's moments and activations at its shape), "
            f"this machine has {memory / GB:.1f} GB available (MemAvailable); free some, "
            "or shrink the configuration"
        )
    if need["disk"] > disk:
        raise RecipesError(
            f"not enough disk under {plan.work}: the run peaks at about "
            f"{need['disk'] / GB:.1f} GB more (during {need['disk_job']}), "
            f"{disk / GB:.1f} GB are free"
        )
    return dict(need, available_memory=memory, free_disk=disk)


# ---- the tables -------------------------------------------------------------------------
def _read(path: Path) -> Optional[dict]:
    return json.loads(path.read_text()) if path.exists() else None


def stage_records(plan) -> Dict[str, dict]:
    out = {}
    for model in plan.cfg.models:
        record = _read(plan.checkpoints / model / STAGE_JSON)
        if record:
            out[model] = record
    return out


def _gb(x) -> str:
    return "" if x is None else f"{x / GB:.1f}"


def _fmt_rate(x) -> str:
    return "no formula" if x is None else f"{x:.4g}"


def _table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def _rates(records: Dict[str, dict]) -> dict:
    rates = {}
    for model, record in records.items():
        for name, phase in record["phases"].items():
            rates[phase_key(model, name)] = phase["flops_per_1m_tokens"]
    return rates


def stage_table(records: Dict[str, dict]) -> str:
    headers = [
        "Stage",
        "Parameters",
        "= formula",
        "Peak memory (GB)",
        "Checkpoint with Adam (GB)",
        "s/update here",
        "Updates",
        "Ledger FLOPs per 1M-token update",
        "Formula",
        "Resumed",
    ]
    rows = []
    for model, r in records.items():
        phases = r["phases"]
        label = lambda n: f"{n}: " if len(phases) > 1 else ""  # noqa: E731
        rows.append(
            [
                model,
                f"{r['parameters']:,}",
                (
                    "yes"
                    if r["parameters"] == r["formula_parameters"]
                    else f"no ({r['formula_parameters']:,})"
                ),
                _gb(max(r["peak_rss"], r["peak_tree"])),
                _gb(r["checkpoint_bytes"]),
                f"{r['seconds_per_update']:.0f}",
                " + ".join(
                    f"{p['updates']}{'' if n == 'unfrozen' else ' ' + n}"
                    for n, p in phases.items()
                ),
                "; ".join(
                    f"{label(n)}{p['flops_per_1m_tokens']:.4g}" for n, p in phases.items()
                ),
                "; ".join(
                    f"{label(n)}{_fmt_rate(p['formula_per_1m_tokens'])}"
                    for n, p in phases.items()
                ),
                f"from update {r['resumed_from']}" if r.get("resumed_from") else "",
            ]
        )
    return _table(headers, rows)


def job_table(plan) -> str:
    """Seconds and peak memory of every evaluation and export job that ran."""
    from .main import evaluated_tasks

    tasks = list(plan.cfg.evaluations)
    headers = ["Model", *[f"{t}: s / GB" for t in tasks], "export + check: s / GB"]
    rows = []
    for model in plan.cfg.models:
        cells, any_ = [], False
        for task in tasks:
            r = _read(plan.results / model / task / "finetune.resources.json")
            if task in evaluated_tasks(model, tasks) and r:
                cells.append(
                    f"{r['seconds']:.0f} / {_gb(max(r['peak_rss'], r['peak_tree']))}"
                )
                any_ = True
            else:
                cells.append("")
        ex = [
            _read(plan.logs / f"{kind}-{model}.resources.json")
            for kind in ("export", "check-export")
        ]
        if all(ex):
            peak = max(max(r["peak_rss"], r["peak_tree"]) for r in ex)
            cells.append(f"{sum(r['seconds'] for r in ex):.0f} / {_gb(peak)}")
            any_ = True
        else:
            cells.append("")
        if any_:
            rows.append([model, *cells])
    return _table(headers, rows)


def export_table(plan) -> str:
    headers = [
        "Export",
        "Kind",
        "Positions x vocabulary",
        "Export vs fairseq (fp32)",
        "fairseq fp32 vs fp64",
        "Export fp32 vs fp64",
        "Logit std",
        "Tolerance",
        "Passed",
    ]
    rows = []
    for model in plan.cfg.rehearsal.export:
        r = _read(plan.work / "hf" / f"{model}.check.json")
        if r:
            rows.append(
                [
                    model,
                    r["kind"],
                    f"{r['positions']} x {r['vocab']:,}",
                    f"{r['export_vs_fairseq']:.2e}",
                    f"{r['fairseq_fp32_vs_fp64']:.2e}",
                    f"{r['export_fp32_vs_fp64']:.2e}",
                    f"{r['logit_std']:.3g}",
                    f"{r['tolerance']:g}, and within {r['rounding_factor']:g}x "
                    "fairseq's own fp32 error",
                    "yes" if r["passed"] else "NO",
                ]
            )
    return _table(headers, rows)


def totals(plan) -> dict:
    """Seconds of every job (one at a time: the rehearsal's duration) and the peak bytes
    of the work directory, from the jobs' resource files."""
    seconds, disk, memory = 0.0, 0, 0
    for path in plan.work.rglob("*.resources.json"):
        r = json.loads(path.read_text())
        seconds += r["seconds"]
        disk = max(disk, r.get("peak_disk", 0))
        memory = max(memory, r["peak_rss"], r["peak_tree"])
    return dict(seconds=seconds, peak_disk=disk, peak_memory=memory)


def markdown(plan) -> str:
    """The rehearsal's section of report.md (and what the command prints)."""
    records = stage_records(plan)
    if not records:
        return "(no stage has finished yet)"
    t = totals(plan)
    first = next(iter(records.values()))
    measured = bill(_rates(records), plan.cfg.rehearsal.mfu)
    reference = bill(formula_rates(Width(vocab=first["vocab"])), plan.cfg.rehearsal.mfu)
    (mh, mrows), (wh, wrows) = bill_rows(measured, reference)
    return "\n\n".join(
        [
            f"Every stage at width {first['width']} and a {first['vocab']:,}-entry dictionary "
            f"on this machine; all jobs together took {t['seconds'] / 3600:.2f} h, the largest "
            f"peak memory was {_gb(t['peak_memory'])} GB and the work directory peaked at "
            f"{_gb(t['peak_disk'])} GB. Peak memory: the larger of the biggest process's "
            "high-water mark and its process tree's sampled total. Seconds per update: the "
            "median over the stage's updates (the first of a run is slower), measured on "
            "whatever else this machine was running.",
            stage_table(records),
            "Fine-tuning evaluations and exports (seconds, peak memory):",
            job_table(plan),
            "Exports to transformers, logits against fairseq's (max absolute difference over "
            "every non-padding position):",
            export_table(plan),
            bill_title(
                measured,
                "counted by this run's compute ledger (per 1M-token update "
                "of each stage and phase, times Table 1's updates)",
            ),
            _table(mh, mrows),
            _table(wh, wrows),
        ]
    )
