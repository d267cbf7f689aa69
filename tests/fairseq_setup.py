"""Build fairseq tasks and models in-process from command-line style arguments."""

from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from helpers import PLUGIN


def parse(data, *args):
    parser = options.get_training_parser()
    return options.parse_args_and_arch(
        parser, [str(data), "--user-dir", str(PLUGIN), "--cpu", *map(str, args)]
    )


def setup(data, *args):
    """(task, args) for ``fairseq-train data *args``."""
    ns = parse(data, *args)
    cfg = convert_namespace_to_omegaconf(ns)
    return tasks.setup_task(cfg.task), ns
