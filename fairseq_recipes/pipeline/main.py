"""``recipes-main``: the whole paper in one command, at toy scale by default.

    recipes-main                                   # embedded toy default (configs/toy.toml)
    recipes-main --config configs/paper.toml       # the paper's scale, real data, GPUs
    recipes-main --step pretrain --model roberta-12e
    recipes-main --step evaluate --model bart-12e2d --evaluation mtop
    recipes-main --step report                     # rebuild the report from what exists

Steps, each a job of ``runner.py`` (finished jobs are reused, a killed run resumes):

1. data: the corpus (the embedded toy corpus, or ``corpus.input``) preprocessed by
   ``recipes-preprocess``; the evaluation data (the embedded toy datasets in the real
   formats, or ``evaluate.data``);
2. pretrain: every model of Table 1 through its ``train_scripts/<model>.sh``, each recipe
   from the checkpoint its recipe names (recipe 2 from ``roberta-12e``, recipe 1 from
   ``bart-12e12d``), and recipe 3 (``bart-12e12d-joint``, not in the paper) as an eleventh;
3. evaluate: ``recipes-finetune`` of every model with a distinct encoder on the encoder
   tasks (XNLI, mATIS++, WikiANN, UDPOS; a frozen two-stage model's encoder *is*
   ``roberta-12e``'s), and of every seq2seq model on mTOP and XSUM (recipe 3's run gives
   both: its ``encoder_last.pt`` and its ``seq2seq_last.pt``);
4. report: ``WORK/results/report.md`` (``report.py``).

A step run alone (``--step``) also runs the unfinished jobs it depends on.
"""

import argparse
import sys
from pathlib import Path
from typing import List

from ..checkpoints.joint_views import ENCODER_VIEW, SEQ2SEQ_VIEW
from ..cli import command
from ..errors import RecipesError
from ..eval import PRETRAIN_SEED_DIR
from ..evaluations import ENCODER_NAMES, EVALUATIONS, NAMES, SEQ2SEQ_NAMES
from ..recipes import STAGES, lineage
from . import config as config_module
from .runner import Job, run

STEPS = ("all", "data", "pretrain", "evaluate", "report")


def evaluated_tasks(model: str, tasks) -> List[str]:
    """The tasks a model is fine-tuned on."""
    stage = STAGES[model]
    out = []
    if stage.freeze_encoder_updates != -1:  # frozen throughout: roberta-12e's encoder
        out += [t for t in tasks if t in ENCODER_NAMES]
    if stage.decoder_layers > 0:
        out += [t for t in tasks if t in SEQ2SEQ_NAMES]
    return out


class Plan:
    """The jobs of one configuration and where they write."""

    def __init__(self, cfg: config_module.Config):
        self.cfg, work = cfg, cfg.work
        self.work = work
        self.python = sys.executable
        self.corpus = cfg.path(cfg.input) if cfg.input else work / "corpus"
        self.data_bin = cfg.path(cfg.data_bin) if cfg.data_bin else work / "data-bin"
        self.eval_data = work / "eval-data"
        self.checkpoints = work / "checkpoints"
        self.results = work / "results"
        self.logs = work / "logs"

    def module(self, module, *args) -> List[str]:
        return [self.python, "-m", module, *map(str, args)]

    #: the data tools need no fairseq registry (see fairseq_recipes/__init__.py)
    LIGHT = {"FAIRSEQ_RECIPES_LIGHT": "1"}

    @property
    def pretrain_seeds(self) -> range:
        return range(1, self.cfg.pretrain_seeds + 1)

    @staticmethod
    def _seed_tree(root: Path, seed: int) -> Path:
        """Pre-training seed 1 writes where a single run does; seed k under
        ``pretrain-seed<k>/`` (``eval/report.py`` reads results from there)."""
        return root if seed == 1 else root / PRETRAIN_SEED_DIR.format(seed)

    @staticmethod
    def _seed_suffix(seed: int) -> str:
        return "" if seed == 1 else " " + PRETRAIN_SEED_DIR.format(seed)

    def pretrain_name(self, model: str, seed: int = 1) -> str:
        return f"pretrain {model}{self._seed_suffix(seed)}"

    def evaluate_name(self, model: str, task: str, seed: int = 1) -> str:
        return f"evaluate {model} {task}{self._seed_suffix(seed)}"

    def save_dir(self, model: str, seed: int = 1) -> Path:
        return self._seed_tree(self.checkpoints, seed) / model

    def checkpoint(self, model: str, seed: int = 1) -> Path:
        return self.save_dir(model, seed) / "checkpoint_last.pt"

    def evaluated_checkpoint(self, model: str, task: str, seed: int = 1) -> Path:
        """The checkpoint fine-tuned on ``task``: the model's last one, or of recipe 3's
        joint run the encoder or the seq2seq model it wrote beside it."""
        if not STAGES[model].objective_schedule:
            return self.checkpoint(model, seed)
        view = SEQ2SEQ_VIEW if EVALUATIONS[task].seq2seq else ENCODER_VIEW
        return self.save_dir(model, seed) / view

    def eval_dir(self, task: str) -> Path:
        if self.cfg.eval_toy:
            return self.eval_data / EVALUATIONS[task].dataset_dir
        return self.cfg.path(self.cfg.eval_data[task])

    def data_jobs(self) -> List[Job]:
        cfg, jobs = self.cfg, []
        after = []
        if cfg.toy:
            jobs.append(
                Job(
                    "corpus",
                    self.logs / "corpus.log",
                    self.corpus / ".done",
                    argv=self.module(
                        "fairseq_recipes.toy.corpus",
                        "--output",
                        self.corpus,
                        "--langs",
                        ",".join(cfg.langs),
                        "--docs-per-lang",
                        cfg.docs_per_lang,
                        "--seed",
                        cfg.corpus_seed,
                    ),
                    env=self.LIGHT,
                )
            )
            after = ["corpus"]
        if not cfg.data_bin:
            options = config_module.as_options(cfg.preprocess)
            if cfg.langs and "--langs" not in options:
                options += ["--langs", ",".join(cfg.langs)]
            jobs.append(
                Job(
                    "preprocess",
                    self.logs / "preprocess.log",
                    self.data_bin / "manifest.json",
                    argv=self.module(
                        "fairseq_recipes.preprocessing.binarize",
                        "--input",
                        self.corpus,
                        "--output",
                        self.data_bin,
                        *options,
                    ),
                    env=self.LIGHT,
                    after=after,
                )
            )
        if cfg.eval_toy:
            jobs.append(
                Job(
                    "eval-data",
                    self.logs / "eval-data.log",
                    self.eval_data / ".done",
                    argv=self.module(
                        "fairseq_recipes.toy.eval_sets",
                        "--output",
                        self.eval_data,
                        "--langs",
                        ",".join(cfg.test_langs()),
                        "--tasks",
                        ",".join(cfg.evaluations),
                        "--train",
                        cfg.toy_train,
                        "--dev",
                        cfg.toy_dev,
                        "--test",
                        cfg.toy_test,
                        "--overwrite",
                    ),
                    env=self.LIGHT,
                )
            )
        return jobs

    def pretrain_job(self, model: str, seed: int = 1) -> Job:
        """Pre-training seed ``seed`` of ``model``: its recipe starts from the same
        seed's checkpoint of the stage it names (the chains of Table 1, seed by seed)."""
        stage = STAGES[model]
        save_dir = self.save_dir(model, seed)
        env = {
            **self.cfg.pretrain_env(model),
            "DATA": str(self.data_bin),
            "SAVE_DIR": str(save_dir),
            "PYTHON": self.python,
        }
        if seed > 1:  # seed 1 keeps the configured SEED (script_settings' default: 1)
            env["SEED"] = str(int(env.get("SEED", 1)) + seed - 1)
        after = ["preprocess"] if not self.cfg.data_bin else []
        if stage.init_from:
            env["INIT"] = str(self.checkpoint(stage.init_from, seed))
            after.append(self.pretrain_name(stage.init_from, seed))
        script = config_module.ROOT / "train_scripts" / f"{model}.sh"
        job = Job(
            self.pretrain_name(model, seed),
            save_dir / "main-job.log",
            save_dir / ".done",
            argv=["bash", str(script)],
            env=env,
            after=after,
            summary="fairseq_recipes.pipeline.report:pretrain_summary",
        )
        rehearsal = self.cfg.rehearsal
        if rehearsal is not None:
            from .rehearsal import interrupt_pattern

            resume = rehearsal.resume_after_update if rehearsal.resume == model else 0
            job.finish = "fairseq_recipes.pipeline.rehearsal:finish_stage"
            job.finish_args = (rehearsal.tidy, resume)
            if resume:
                job.interrupt = interrupt_pattern(resume)
        return job

    def finetune_job(self, model: str, task: str, seed: int = 1) -> Job:
        cfg, output = self.cfg, self._seed_tree(self.results, seed) / model / task
        argv = [
            "--checkpoint",
            self.evaluated_checkpoint(model, task, seed),
            "--evaluation",
            task,
            "--data",
            self.data_bin,
            "--eval-data",
            self.eval_dir(task),
            "--output",
            output,
            "--seeds",
            cfg.seeds,
        ]
        langs = self.test_langs(task)
        if langs:
            argv += ["--langs", *langs]
        argv = [str(a) for a in argv] + cfg.finetune_options(task)
        after = [self.pretrain_name(model, seed)] + (
            ["eval-data"] if cfg.eval_toy else []
        )
        return Job(
            self.evaluate_name(model, task, seed),
            output / "finetune.log",
            output / ".done",
            call="fairseq_recipes.eval.finetune:cli_main",
            args=(argv,),
            after=after,
            summary="fairseq_recipes.pipeline.report:finetune_summary",
        )

    def test_langs(self, task: str) -> List[str]:
        """The languages of the configuration that the dataset covers; toy data covers
        every language, unless the dataset is English-only (XSUM)."""
        covered = EVALUATIONS[task].languages
        if self.cfg.eval_toy and EVALUATIONS[task].multilingual:
            covered = None
        langs = self.cfg.test_langs()
        return [l for l in langs if covered is None or l in covered]

    def jobs(self, step: str, models=None, tasks=None) -> List[Job]:
        """The jobs of ``step`` for ``models``/``tasks`` and everything they need, in
        an order that starts the longest chains first."""
        cfg = self.cfg
        models = models or cfg.models
        tasks = tasks or cfg.evaluations
        everything = {j.name: j for j in self.data_jobs()}
        trained = [s.name for s in lineage(*cfg.models, *models)]
        for seed in self.pretrain_seeds:
            for model in trained:
                job = self.pretrain_job(model, seed)
                everything[job.name] = job
            for model in trained:
                for task in evaluated_tasks(model, cfg.evaluations):
                    job = self.finetune_job(model, task, seed)
                    everything[job.name] = job
        exports = []
        if cfg.rehearsal is not None:
            from .rehearsal import export_jobs

            for model in [m for m in cfg.rehearsal.export if m in trained]:
                for job in export_jobs(self, model):
                    everything[job.name] = job
                    exports.append(job.name)
        data = [
            j
            for j in everything
            if not j.startswith(("pretrain", "evaluate", "export", "check export"))
        ]
        goals = {
            "data": data,
            "pretrain": [
                self.pretrain_name(m, k) for k in self.pretrain_seeds for m in models
            ],
            "evaluate": [
                self.evaluate_name(m, t, k)
                for k in self.pretrain_seeds
                for m in models
                for t in evaluated_tasks(m, tasks)
            ]
            + [j for j in exports if j.rsplit(" ", 1)[1] in models],
        }
        goals["all"] = data + goals["pretrain"] + goals["evaluate"]
        goals = goals.get(step, [])
        needed, stack = set(), [g for g in goals if g in everything]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack += [a for a in everything[name].after if a in everything]
        return [job for name, job in everything.items() if name in needed]


class _Tee:
    """Write to the terminal and to ``WORK/main.log``."""

    def __init__(self, stream, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream, self.log = stream, open(path, "a", encoding="utf-8")

    def write(self, text):
        self.stream.write(text)
        self.log.write(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def isatty(self):
        return self.stream.isatty()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="recipes-main", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", help="TOML configuration (default: configs/toy.toml)")
    parser.add_argument("--step", choices=STEPS, default="all")
    parser.add_argument(
        "--model", nargs="+", choices=list(STAGES), help="only these models"
    )
    parser.add_argument(
        "--evaluation",
        nargs="+",
        choices=NAMES,
        help="only these evaluations",
    )
    parser.add_argument(
        "--seeds", type=int, help="fine-tuning seeds (overrides the config)"
    )
    parser.add_argument("--jobs", type=int, help="runs at once (overrides the config)")
    parser.add_argument("--work-dir", help="overrides the config's work_dir")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the jobs, run nothing"
    )
    parser.add_argument(
        "--skip-preflight",
        action="store_true",
        help="with [rehearsal]: start even when the memory or disk check finds too "
        "little (e.g. memory another process is about to release)",
    )
    return parser


@command
def cli_main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = config_module.load(args.config)
    for key in ("seeds", "jobs"):
        if getattr(args, key) is not None:
            if getattr(args, key) < 1:
                raise RecipesError(f"--{key} must be at least 1")
            setattr(cfg, key, getattr(args, key))
    if args.work_dir:
        cfg.work_dir = args.work_dir
    plan = Plan(cfg)
    jobs = plan.jobs(args.step, args.model, args.evaluation)
    need = None
    if cfg.rehearsal is not None:  # before anything is written
        from . import rehearsal

        pending = [job for job in jobs if not job.is_done()]
        if args.dry_run or args.skip_preflight:
            need = rehearsal.requirements(plan, pending)
        else:
            need = rehearsal.preflight(plan, pending)
    out = sys.stdout if args.dry_run else _Tee(sys.stdout, cfg.work / "main.log")
    print(
        f"config: {cfg.source}; work: {cfg.work}; {len(jobs)} jobs; "
        f"{cfg.jobs} at once x {cfg.threads} thread(s)",
        file=out,
        flush=True,
    )
    if need is not None:
        print(
            f"pre-flight: the largest job ({need['memory_job'] or '-'}) needs about "
            f"{need['memory'] / rehearsal.GB:.1f} GB of memory, the run about "
            f"{need['disk'] / rehearsal.GB:.1f} GB more disk at its peak "
            f"({need['disk_job'] or '-'})",
            file=out,
            flush=True,
        )
    if args.dry_run:
        for job in jobs:
            state = "done" if job.is_done() else "to run"
            print(f"{state:6}  {job.name}  (after: {', '.join(job.after) or '-'})")
        return
    disk_root = cfg.work if cfg.rehearsal is not None else None
    run(jobs, cfg.jobs, cfg.threads, out=out, disk_root=disk_root)
    if args.step in ("all", "report"):
        from .report import build

        print(f"report: {build(plan)}", file=out, flush=True)
    if cfg.rehearsal is not None:
        print(rehearsal.markdown(plan), file=out, flush=True)


if __name__ == "__main__":
    cli_main()
