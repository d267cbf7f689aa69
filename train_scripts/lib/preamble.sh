# Shared by lib/common.sh (pre-training) and lib/finetune.sh (fine-tuning): the project's
# root, its python, and the one-line error every script exits with.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# python with fairseq and this package: the project's .venv when there is one
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
# helper calls that need no fairseq registry skip importing torch and fairseq (~4 s each)
light() { FAIRSEQ_RECIPES_LIGHT=1 "$PYTHON" "$@"; }
fail() { echo "error: $*" >&2; exit 2; }
