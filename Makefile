# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: run test test-fast lint format bench bench-gpu device-kit report lock dry-run setup data slurm clean-results

run: setup data  ## set up, then run the default experiment (Fashion-MNIST)
	$(BIN)/snakemake --cores all

# Both on every core (pytest-xdist), each test file on one worker (tests/conftest.py).
PYTEST := $(BIN)/pytest -q -n auto --dist loadfile --no-loadscope-reorder

test: setup data slurm  ## set up, then run every test
	$(PYTEST)

test-fast: setup  ## the tests not marked slow or slurm: no full DAG run, no Slurm; real Snakemake dry runs, lint, refusals and one-rule runs
	$(PYTEST) -m "not slow and not slurm"

lint: setup  ## snakemake --lint and snakefmt --check of the Snakefile and rules (make test runs both too)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: setup  ## snakefmt the Snakefile and rules (line length from pyproject.toml)
	$(BIN)/snakefmt Snakefile workflow/rules

bench: setup data  ## training-speed benchmark (prints, writes benchmarks/out/speed.{csv,json})
	$(BIN)/python benchmarks/speed.py

bench-gpu: setup data  ## the benchmark for a GPU machine: caffenet eager, fused LRN and compiled (and where its step goes), CUDA graphs, the grid with 1-8 nets per GPU
	$(BIN)/python benchmarks/speed.py --require-gpu --gpu-sections --quick --dag none --compile --grid on

# For an offline GPU machine whose Python has torch but not snakemake: the wheels it lacks (Python 3.12,
# x86-64 Linux) and the Fashion-MNIST files, into .device-kit/; there, run benchmarks/device_session.sh.
DEVICE_PLATFORMS := $(foreach p,manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1,--platform $(p)_x86_64)
device-kit: data  ## wheels + data for benchmarks/device_session.sh on an offline GPU machine (.device-kit/)
	mkdir -p .device-kit/wheels .device-kit/fashion-mnist
	grep -v -e '^#' -e '^connection-pool' benchmarks/device_wheels.txt | xargs $(PYTHON) -m pip download -q --no-deps \
		-c envs/lock.txt --only-binary=:all: --python-version 3.12 --implementation cp $(DEVICE_PLATFORMS) \
		-d .device-kit/wheels
	$(PYTHON) -m pip wheel -q --no-deps -c envs/lock.txt -w .device-kit/wheels \
		$$(grep '^connection-pool' benchmarks/device_wheels.txt)
	cp $(dir $(FMNIST))*.gz .device-kit/fashion-mnist/

RUN ?= default
CONFIG ?=
report: setup  ## the report of a finished run: make report [RUN=cifar10 CONFIG=config/cifar10.yaml]
	$(BIN)/snakemake $(if $(CONFIG),--configfile $(CONFIG)) --report results/$(RUN)/report.html

lock:  ## resolve envs/requirements.txt afresh into envs/lock.txt and envs/environment.yaml (then make setup)
	$(PYTHON) envs/lock.py

dry-run: setup
	$(BIN)/snakemake -n

setup: $(STAMP)

# The direct requirements at the lock's versions, and every package they pull in too (pip -c).
$(STAMP): envs/requirements.txt envs/lock.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r envs/requirements.txt -c envs/lock.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

data: $(FMNIST)

# Debian's package of Fashion-MNIST; elsewhere, the error message of the run says where to put the files.
$(FMNIST):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }; \
	else echo "note: cannot apt-get install dataset-fashion-mnist here; see README (Data sets)"; fi

slurm:  ## the local single-node Slurm (with slurmdbd + MariaDB) the Slurm tests use (idempotent)
	@if [ "$$(id -u)" = 0 ]; then bash tests/slurm/cluster.sh start; \
	else echo "note: not root, the Slurm tests will be skipped"; fi

clean-results:
	rm -rf results .snakemake/incomplete
