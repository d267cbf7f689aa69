"""Importing the plugin leaves the root logger as it found it."""

import subprocess
import sys

REPORT = "import logging; r = logging.getLogger(); print(r.level, len(r.handlers))"


def _root_after(imports: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", f"{imports}; {REPORT}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return proc.stdout.split()


def test_stock_fairseq_sets_the_root_logger_to_debug_on_import():
    """The failure the fix exists for; if fairseq changes, this test says so."""
    assert _root_after("import fairseq.models") == ["10", "1"]


def test_the_plugin_restores_it():
    assert _root_after("import fairseq_recipes") == ["30", "0"]


def test_a_configured_logger_is_kept():
    configured = "import logging; logging.basicConfig(level=logging.INFO)"
    assert _root_after(f"{configured}; import fairseq_recipes") == ["20", "1"]
