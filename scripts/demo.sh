#!/usr/bin/env bash
# Run the demo on the built-in procedural scene (installs into .venv on first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/bootstrap.sh"
exec "$VENV_BIN/motiondepth" demo "$@"
