#!/usr/bin/env bash
# Create .venv and install the project into it, in the order fairseq-fixed needs:
# torch, numpy and cython first, then fairseq-fixed without build isolation (its
# setup.py imports torch and compiles C++ extensions), then this package.
# Idempotent: a second run with nothing changed returns in a second or two.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"              # where the environment lives
PYTHON="${PYTHON:-python3}"              # interpreter the venv is made from (3.11+)
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}" # the CPU wheel on these machines; a torch already importable is kept
FAIRSEQ_SPEC="fairseq-fixed==0.12.3.1"   # fairseq 0.12 with Python 3.11 support
FAIRSCALE_SPEC="fairscale==0.4.13"       # the "zero" extra: ZeRO stage 1 (--zero-sharding os)
STAMP="$VENV/.bootstrap-stamp"

# The stamp is a hash of everything that decides what gets installed.
want="$(cat "$ROOT/setup.py" "$ROOT/tools/bootstrap.sh" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/python" ]]; then
  exit 0
fi

log() { printf '[bootstrap] %s\n' "$*" >&2; }
# pip warns about every missing local index of this machine's pip config; hide just those
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

if [[ ! -x "$VENV/bin/python" ]]; then
  # Keep a torch that the base interpreter already has (e.g. a CUDA build on a GPU
  # machine): the venv then sees the system site-packages instead of replacing it.
  if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    log "keeping the installed torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PIP=(pip_quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q)

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  log "installing $TORCH_SPEC"
  "${PIP[@]}" "$TORCH_SPEC"
fi
log "installing build requirements of fairseq"
# setuptools_scm: seqeval is a legacy sdist whose setup_requires would fetch an incompatible one
"${PIP[@]}" "numpy<2.3" cython "setuptools<81" wheel "setuptools_scm<9"
if ! "$VENV/bin/python" -c "import fairseq" >/dev/null 2>&1; then
  log "building $FAIRSEQ_SPEC (compiles C++ extensions, a few minutes)"
  "${PIP[@]}" --no-build-isolation "$FAIRSEQ_SPEC"
fi
if ! "$VENV/bin/python" -c "import fairscale" >/dev/null 2>&1; then
  log "installing $FAIRSCALE_SPEC (its build imports torch: no build isolation)"
  "${PIP[@]}" --no-build-isolation --no-deps "$FAIRSCALE_SPEC"
fi
log "installing fairseq_recipes and its dependencies"
"${PIP[@]}" -e "$ROOT[dev,zero,hf]"
# fairseq-fixed requires torchaudio, and pip picks one built for another torch (none is
# published for torch 2.13): it cannot load its library. fairseq imports it only in its
# speech tasks, but transformers imports any torchaudio it finds, and fails. Remove one
# that cannot load (a working one, e.g. beside a system CUDA torch, stays).
if "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torchaudio') is None)" \
  && ! "$VENV/bin/python" -c "import torchaudio" >/dev/null 2>&1; then
  log "removing torchaudio: it cannot load with this torch"
  "$VENV/bin/python" -m pip uninstall -y -q torchaudio \
    || log "warning: could not remove torchaudio; transformers will fail to import"
fi
echo "$want" >"$STAMP"
log "ready: $VENV"
