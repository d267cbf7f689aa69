"""The train scripts' settings are declared once, in script_settings.py: their defaults
reach the scripts through ``recipes.py shell`` (the function ``script_defaults``), and
train_scripts/lib/ declares none of them again."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_recipes.recipes import SMOKE, STAGES
from fairseq_recipes.script_settings import SETTINGS, shell_defaults

ROOT = Path(__file__).resolve().parents[1]


def test_no_default_is_declared_again_in_the_shell_libraries():
    for lib in ("common.sh", "finetune.sh", "preamble.sh"):
        text = (ROOT / "train_scripts" / "lib" / lib).read_text()
        for setting in SETTINGS:
            name = setting.name
            if name == "PYTHON" or (lib == "finetune.sh" and name in ("DATA", "SMOKE")):
                continue  # set by the preamble; finetune.sh's own two (its settings)
            assert not re.search(rf'^\s*{name}="\$\{{{name}:-', text, re.M), (lib, name)
            assert f': "${{{name}:=' not in text, (lib, name)


def test_script_defaults_assigns_every_setting_in_order():
    assigned = re.findall(r'^  ([A-Z_]+)="\$\{', shell_defaults(), re.M)
    expected = [s.name for s in SETTINGS if s.default is not None]
    assert list(dict.fromkeys(assigned)) == expected


def _defaults(recipe: str, **env) -> dict:
    names = ["UPDATES", "WARMUP", "FREEZE_ENCODER_UPDATES", "SAVE_INTERVAL"]
    names += ["EMBED_DIM", "MAX_TOKENS", "GPUS_PER_NODE", "INIT", "PEAK_LR"]
    script = (
        f'light() {{ "{sys.executable}" "$@"; }}; detect_gpus() {{ echo 7; }}\n'
        f"RECIPE={recipe}\n"
        f'eval "$("{sys.executable}" -m fairseq_recipes.recipes shell {recipe})"\n'
        "script_defaults\n" + "".join(f'echo "{n}=${n}"\n' for n in names)
    )
    out = subprocess.run(
        ["bash", "-euc", script],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize("recipe", ["roberta-12e", "2stage-bart-12e12d-unfrz"])
def test_the_defaults_the_scripts_get(recipe):
    stage = STAGES[recipe]
    paper = _defaults(recipe)
    assert paper["UPDATES"] == str(stage.updates)
    assert paper["WARMUP"] == str(stage.warmup_updates)
    assert paper["FREEZE_ENCODER_UPDATES"] == str(stage.freeze_encoder_updates)
    assert paper["SAVE_INTERVAL"] == "5000" and paper["EMBED_DIM"] == ""
    assert paper["GPUS_PER_NODE"] == "7" and paper["MAX_TOKENS"] == "8192"
    assert paper["INIT"] == f"checkpoints/{stage.init_from or 'none'}/checkpoint_last.pt"
    assert float(paper["PEAK_LR"]) == stage.peak_lr

    smoke = _defaults(recipe, SMOKE="1")
    updates = math.ceil(stage.updates / SMOKE["update_divisor"])
    assert smoke["UPDATES"] == str(updates)
    assert smoke["WARMUP"] == str(SMOKE["warmup_updates"])
    assert smoke["SAVE_INTERVAL"] == str(max(updates // 2, 1))
    assert smoke["EMBED_DIM"] == str(SMOKE["embed_dim"])
    assert smoke["GPUS_PER_NODE"] == "0"
    assert smoke["MAX_TOKENS"] == str(SMOKE["max_tokens"])
    assert float(smoke["PEAK_LR"]) == pytest.approx(
        stage.peak_lr * SMOKE["peak_lr_scale"]
    )
    if stage.freeze_encoder_updates > 0:
        frozen = math.ceil(stage.freeze_encoder_updates / SMOKE["update_divisor"])
        assert smoke["FREEZE_ENCODER_UPDATES"] == str(frozen)

    # the environment wins, smoke mode or not
    given = _defaults(recipe, SMOKE="1", UPDATES="3", EMBED_DIM="32", UPDATE_DIVISOR="2")
    assert given["UPDATES"] == "3" and given["EMBED_DIM"] == "32"
    assert given["WARMUP"] == str(SMOKE["warmup_updates"])
