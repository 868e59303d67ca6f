#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (idempotent).
# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
# Usage: source scripts/bootstrap.sh   (sets $VENV_BIN)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    echo "[bootstrap] creating $venv" >&2
    "$python" -m venv "$venv"
fi
stamp="$venv/.motiondepth-installed"
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[bootstrap] installing motiondepth (with torch, pinned) and test tools into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet -c "$root/constraints.txt" -e "$root[dev,train]" >&2
    echo "$want" > "$stamp"
fi
VENV_BIN="$venv/bin"
export VENV_BIN
