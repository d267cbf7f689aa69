"""Entry point: `python preprocess/ud_text.py --help` (same as `python -m fairseq_recipes.data.ud_text`)."""

import os
import sys

# run as a script from a checkout: make the repository importable
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fairseq_recipes.data.ud_text import cli_main  # noqa: E402

if __name__ == "__main__":
    cli_main()
