# The two commands of README.md. Both install what they need first.
# Builds go to CARGO_TARGET_DIR (default: ~/.cache/gridsql/target) so that
# clones on the same machine share one build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gridsql/target
export GRIDSQL_VENV ?= $(CURDIR)/.venv

.PHONY: demo test build venv bench wheel

SHELL := /bin/bash

demo:
	@bash scripts/setup.sh
	cargo run --quiet -- demo

# The habits CI enforces before the tests: formatting, clippy with warnings
# as errors (workspace lints included), then unit, integration, CLI and doc tests.
test:
	@bash scripts/setup.sh --with-venv
	@$(MAKE) --no-print-directory wheel
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	@mkdir -p $(CARGO_TARGET_DIR); set -o pipefail; \
	  { GRIDSQL_PYTHON=$(GRIDSQL_VENV)/bin/python cargo test --workspace --lib --bins --tests --no-fail-fast 2>&1; s1=$$?; \
	    cargo test --workspace --doc 2>&1; s2=$$?; [ $$s1 -eq 0 ] && [ $$s2 -eq 0 ]; } \
	  | tee $(CARGO_TARGET_DIR)/test.log; status=$$?; \
	  awk '/^test result:/ { p += $$4; f += $$6 } END { printf "all tests: %d passed, %d failed\n", p, f }' $(CARGO_TARGET_DIR)/test.log; \
	  exit $$status

# The Python package: PyO3 extension + gridsql/ Python API, built by maturin
# into target/wheels/ of this checkout (a dev-profile build sharing the
# workspace's target dir, stripped). `pip install target/wheels/gridsql-*.whl`.
wheel:
	@bash scripts/setup.sh --with-venv
	@$(GRIDSQL_VENV)/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.9,<2"
	@rm -f target/wheels/gridsql-*.whl
	$(GRIDSQL_VENV)/bin/maturin build --quiet --profile dev --strip --auditwheel skip -m python/Cargo.toml --out target/wheels

build:
	@bash scripts/setup.sh
	cargo build

venv:
	bash scripts/venv.sh

# Q1-Q5 against xarray + dask on the AVISO-like store (release build, ~30 min cold);
# BENCH_ARGS e.g. "--suite formats" or "--days 60".
bench:
	@bash scripts/setup.sh --with-venv
	$(GRIDSQL_VENV)/bin/python benches/run.py $(BENCH_ARGS)
