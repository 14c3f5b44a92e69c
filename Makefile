# facelib: the two commands are `make book` and `make test` (see README.md).
#   make book [PROFILE=smoke|cpu|gpu|paper]   environment, notebooks (papermill), Jupyter Book -> _build/html/
#   make test                              environment, unit tests, nbval on the notebooks, pair sync check
#   make bench [BENCH_SIZE=full|tiny]      each part against a baseline, same run: runs/bench/, book/bench_table.md

PROFILE ?= cpu
BENCH_SIZE ?= full
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facelib-installed
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env book notebooks html test bench lab sync clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test,bench]'
	$(PY) -m facelib.real.assets
	touch $@

## execute every notebook for $(PROFILE) into book/executed/ (times in runs/$(PROFILE)/notebook_times.json)
notebooks: $(STAMP)
	$(PY) -m facelib.book run --profile $(PROFILE)

## build the book from the executed notebooks, warnings as errors
html: $(STAMP)
	$(PY) -c "import facelib.book as b; b.install_static_assets(b.repo_root())"
	$(PY) -m benchmarks.report
	$(VENV)/bin/jupyter-book build --warningiserror --nitpick --keep-going --quiet .
	@echo "book: $(CURDIR)/_build/html/index.html"

book: notebooks
	$(MAKE) html

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 -p no:cacheprovider

## time each part against its baseline (a few minutes on 2 cores); the tiny size runs in make test
bench: $(STAMP)
	$(PY) -m benchmarks.run --size $(BENCH_SIZE)

## refresh a twin's reference outputs after editing its .py (runs the smoke defaults)
sync: $(STAMP)
	cd notebooks && for f in [0-9][0-9]_*.py; do ../$(VENV)/bin/jupytext --sync --execute --set-kernel python3 $$f; done

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf _build book/executed book/_static book/bench_table.md
