#!/usr/bin/env bash
# Runs the unit tests of the patched ballista-scheduler (Ballista's own, and
# the gridsql patch's) outside the workspace: the vendored copy has no
# dev-dependencies, so its source is laid over the published crate (which
# has them) in a scratch directory, pinned to the workspace's Cargo.lock.
# Builds the crate's test dependencies in their own target dir (~6 min on
# 2 cores the first time). Usage: bash vendor/test.sh [test name filter]
set -euo pipefail
cd "$(dirname "$0")/.."
version=55.0.0
work="${TMPDIR:-/tmp}/gridsql-vendor-test"
target="${VENDOR_TEST_TARGET:-$HOME/.cache/gridsql/vendor-test-target}"
rm -rf "$work"
mkdir -p "$work"
curl -sfL "https://static.crates.io/crates/ballista-scheduler/ballista-scheduler-$version.crate" |
    tar xz -C "$work"
crate="$work/ballista-scheduler-$version"
rm -rf "$crate/src"
cp -r vendor/ballista-scheduler/src "$crate/src"
# the published binaries and integration tests are not part of the copy
python3 - "$crate/Cargo.toml" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'\n\[\[(bin|test)\]\]\n(?:[^\[\n][^\n]*\n|\n(?!\[))*', '\n', s)
open(p, 'w').write(s + '\n[workspace]\n')
EOF
cp Cargo.lock "$crate/Cargo.lock"
cd "$crate"
CARGO_TARGET_DIR="$target" cargo test --lib -- "$@"
