#!/usr/bin/env bash
# The prepared device check (tests/gpu/check.py): generation and extraction twice on one device, no hub, no
# network; one JSON out. On a GPU machine: `bash tests/gpu/check.sh --out docs/gpu/check-<card>.json`.
# Here (CI): `bash tests/gpu/check.sh --device cpu` (a test of the script itself). Uses the python3 on PATH (the
# device machine's own torch and transformers) unless PYTHON is set; the repo's .venv when it exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$PY" tests/gpu/check.py "$@"
