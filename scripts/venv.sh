#!/usr/bin/env bash
# Create (or reuse) the Python virtualenv used by gridsql's tests.
#
#   scripts/venv.sh            # -> prints the venv's python path on its last line
#   PY=$(scripts/venv.sh | tail -n1)
#
# Location: ${GRIDSQL_VENV:-<repo>/.venv}. Interpreter used to create it: ${GRIDSQL_BASE_PYTHON:-python3}.
# Requirements: tests/requirements.txt. A stamp file inside the venv holds the SHA-256 of that list
# (plus the interpreter version); when it matches, nothing is installed and nothing but the path is printed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRIDSQL_VENV:-$REPO/.venv}"
REQS="$REPO/tests/requirements.txt"
BASE_PY="${GRIDSQL_BASE_PYTHON:-python3}"
STAMP="$VENV/.gridsql-requirements.sha256"

if [[ ! -f "$REQS" ]]; then
    echo "venv.sh: missing $REQS" >&2
    exit 1
fi

want="$( { cat "$REQS"; "$BASE_PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi

{
    echo "venv.sh: setting up $VENV (requirements changed or venv missing)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$BASE_PY" -m venv "$VENV"
    fi
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
} >&2

echo "$want" > "$STAMP"
echo "$VENV/bin/python"
