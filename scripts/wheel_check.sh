#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it with no extras into a fresh virtual
# environment (torch pinned by constraints.txt), then run the command line on a tiny simulated clip.
# Usage: bash scripts/wheel_check.sh   (CI runs it after the tests)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "[wheel] building" >&2
"$python" -m pip wheel --quiet --no-deps -w "$work/dist" "$root" >&2
wheel="$(ls "$work"/dist/motiondepth-*.whl)"
echo "[wheel] $(basename "$wheel"): $(du -h "$wheel" | cut -f1)" >&2
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$work/venv/bin/python" -m pip install --quiet -c "$root/constraints.txt" "$wheel" >&2
cd "$work"  # away from the source tree: the installed package, not src/
log="$work/log.txt"
run() { "$@" > "$log" 2>&1 || { cat "$log" >&2; echo "[wheel] failed: $*" >&2; exit 1; }; }
run "$work/venv/bin/python" -m motiondepth --help
run "$work/venv/bin/motiondepth" simulate --procedural --frames 12 --out "$work/sim"
run "$work/venv/bin/motiondepth" run "$work/sim" --out "$work/run"
for f in trajectory.csv depth.npz report.html config.json; do
    test -s "$work/run/$f" || { echo "[wheel] run wrote no $f" >&2; exit 1; }
done
echo "[wheel] installed without extras: python -m motiondepth, simulate and run work" >&2
