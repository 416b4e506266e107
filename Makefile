# The two commands of README.md. Both install what they need first.
# Builds go to CARGO_TARGET_DIR (default: ~/.cache/gridsql/target) so that
# clones on the same machine share one build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gridsql/target
export GRIDSQL_VENV ?= $(CURDIR)/.venv

.PHONY: demo test build venv

demo:
	@bash scripts/setup.sh
	cargo run --quiet -- demo

test:
	@bash scripts/setup.sh --with-venv
	GRIDSQL_PYTHON=$(GRIDSQL_VENV)/bin/python cargo test --workspace --all-targets

build:
	@bash scripts/setup.sh
	cargo build

venv:
	bash scripts/venv.sh
