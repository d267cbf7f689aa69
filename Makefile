# The README's two commands: `make main` (the main job) and `make test` (the test suite).
# Both create .venv first when it is missing (tools/bootstrap.sh is idempotent).
# `make rehearsal`: the main job at the paper's shapes on this machine (configs/rehearsal.toml).

.PHONY: main test bootstrap benchmarks format rehearsal

bootstrap:
	@tools/bootstrap.sh

main: bootstrap
	@tools/run_main.sh

rehearsal: bootstrap
	@CONFIG=configs/rehearsal.toml nice tools/run_main.sh

test: bootstrap
	@.venv/bin/python -m pytest -q tests

benchmarks: bootstrap
	@.venv/bin/python -m benchmarks --json benchmarks.json

format: bootstrap
	@.venv/bin/python -m isort fairseq_recipes preprocess tests benchmarks
	@.venv/bin/python -m black fairseq_recipes preprocess tests benchmarks
