#!/usr/bin/env bash
# Run the test suite (installs into .venv on first use). Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/bootstrap.sh"
cd "$root"
# The report test renders report.html in headless Chromium; install Debian's package when we can
# (root with apt-get), once, best effort: without it that test skips. MOTIONDEPTH_NO_CHROMIUM=1 opts out.
if [ -z "${MOTIONDEPTH_NO_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ ! -f "$root/.venv/.chromium-tried" ]; then
    echo "[test] installing chromium for the report test (best effort)" >&2
    touch "$root/.venv/.chromium-tried"
    { timeout 300 apt-get install -y -qq chromium || { timeout 300 apt-get update -qq \
        && timeout 300 apt-get install -y -qq chromium; }; } >/dev/null 2>&1 \
        || echo "[test] chromium not installed; the report rendering test will skip" >&2
fi
# The optional Hugging Face depth-model backend (depth/hf.py) is tested when 'transformers'
# installs (once, best effort); without it those tests skip.
if ! "$VENV_BIN/python" -c "import transformers" >/dev/null 2>&1 && [ ! -f "$root/.venv/.transformers-tried" ]; then
    touch "$root/.venv/.transformers-tried"
    "$VENV_BIN/python" -m pip install --quiet -c "$root/constraints.txt" -e "$root[hf]" >&2 \
        || echo "[test] transformers not installed; the depth-model tests will skip" >&2
fi
# The default suite leaves out the tests marked slow (a few minutes on 2 cores); CI also runs those
# (bash scripts/test.sh -m slow). Any -m given here replaces the default.
case " $* " in
    *" -m "*|*" -m="*) exec "$VENV_BIN/python" -m pytest "$@" ;;
    *) exec "$VENV_BIN/python" -m pytest -m "not slow" "$@" ;;
esac
