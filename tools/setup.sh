#!/usr/bin/env bash
# Set up tsal_tf in a local virtual environment (idempotent: a second run with nothing changed takes under a second).
#   bash tools/setup.sh          runtime dependencies + the package (editable) + the custom-op library
#   bash tools/setup.sh --test   the same plus the test dependencies
# Environment: TSAL_VENV (default .venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TSAL_VENV:-.venv}"
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
stamp="$venv/.tsal_tf-installed${extras:+-test}"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
# The test install is a superset of the runtime one.
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] && [ "$(cat "$venv/.tsal_tf-installed-test" 2>/dev/null)" != "$want" -o -n "$extras" ]; then
  echo "[setup] installing tsal_tf$extras and its pinned dependencies"
  # uv installs the same pinned set several times faster than pip (it downloads and unpacks in parallel);
  # pip is the fallback where uv cannot be installed or cannot reach an index (uv does not read pip's config).
  # Bytecode is compiled at install, as pip does, so that the first imports do not pay for it.
  if ! { "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: uv==0.13.10 >/dev/null 2>&1 &&
         "$venv/bin/uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" -e ".$extras"; }; then
    echo "[setup] uv was not usable; installing with pip"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -e ".$extras"
  fi
  echo "$want" > "$stamp"
else
  echo "[setup] $venv is up to date"
fi
if [ -x tools/build_ops.sh ]; then
  PYTHON="$venv/bin/python" bash tools/build_ops.sh
fi
