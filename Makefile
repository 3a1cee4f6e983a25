# Two commands do everything on a fresh machine: `make lab` and `make test`.
# Versions that were tested are pinned in constraints.txt (the one place for pins).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
WORKERS ?= 4
# matplotlib's font cache lives in the venv: a cache shared in ~/.cache can name the fonts of another
# checkout's venv, since deleted, and a kernel that finds them missing rebuilds it, which on a busy
# machine prints a warning into a figure's output. Built once at install (below), never under test.
export MPLCONFIGDIR := $(CURDIR)/$(VENV)/matplotlib
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=120

# The fuzz suite with many random examples (make test runs a few, derandomized).
fuzz: $(STAMP)
	ZGUIDE_FUZZ=fuzz $(PY) -m pytest -q tests -m fuzz -p no:randomly

.PHONY: fuzz lab test unit peers notebooks-test browser-test bench notebooks diagrams slides talk talk-notebook html lint clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[notebook,test]'
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json   # no news, no update checks
	$(PY) -c "import matplotlib.font_manager"   # matplotlib's font cache, built now (MPLCONFIGDIR)
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --config=tools/jupyter_lab_config.py --ServerApp.root_dir=notebooks

# Tests and notebooks in one run, spread over WORKERS processes a file at a time (pytest-xdist): on
# 2 cores, 4 workers overlap the waiting (much of the time is waiting on sockets and timeouts).
test: $(STAMP) peers
	$(PY) -m pytest -q -n $(WORKERS) --dist loadfile $(NBVAL) tests notebooks

unit: $(STAMP)
	$(PY) -m pytest -q tests -m "not browser"

notebooks-test: $(STAMP) peers
	$(PY) -m pytest -q $(NBVAL) notebooks

browser-test: $(STAMP)
	$(PY) -m pytest -q tests -m browser

bench: $(STAMP)
	$(PY) tools/bench.py

# Re-run every notebook top to bottom and save its outputs (do this before committing a notebook).
notebooks: $(STAMP)
	$(PY) tools/nbbuild.py notebooks/src/*.py

# The socket diagrams drawn once to SVG (needs Chromium), for slides and pages read offline.
diagrams: $(STAMP)
	$(PY) tools/diagrams.py

# Slides for talks: reveal.js HTML of every notebook (offline: reveal.js and the diagrams are in them).
slides: $(STAMP)
	@$(PY) tools/diagrams.py --check || echo "(those diagrams will need Mermaid from a CDN: make diagrams)"
	$(PY) tools/publish.py slides --out build/slides

# The seed talk as one deck made of the notebooks' cells (tools/talk.py): build/talk/talk.slides.html,
# offline, from the committed notebooks/talk.ipynb. Live: open notebooks/talk.ipynb in `make lab`, Alt+R.
talk: $(STAMP)
	@$(PY) tools/talk.py --check || echo "(the deck is built from the committed talk notebook: make talk-notebook renews it)"
	$(PY) tools/publish.py slides --out build/talk notebooks/talk.ipynb

# Renew notebooks/talk.ipynb from the notebooks' sources and run it (after changing a notebook it uses).
talk-notebook: $(STAMP)
	$(PY) tools/talk.py

# A static site: every notebook run again top to bottom, as HTML with its widget state saved.
html: $(STAMP)
	@$(PY) tools/diagrams.py --check || echo "(those diagrams will need Mermaid from a CDN: make diagrams)"
	$(PY) tools/publish.py html --out build/html

# The peers in other languages (notebook 21): the C worker, built with cc on libzmq, and the JavaScript
# client's zeromq package, installed into peers/js/node_modules as peers/js/package-lock.json pins it.
# Without a C compiler and libzmq's headers, or without Node, that part says so and is left out.
peers:
	@if printf '#include <zmq.h>\n' | $(CC) -E - >/dev/null 2>&1; then $(MAKE) --no-print-directory build/mdworker; \
	else echo "peers: no C compiler with libzmq's headers (apt-get install gcc libzmq3-dev): no C peers"; fi
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	$(MAKE) --no-print-directory peers/js/node_modules/.package-lock.json; \
	else echo "peers: no node and npm (apt-get install nodejs npm): no JavaScript peers"; fi

build/mdworker: peers/c/mdworker.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -o $@ $< -lzmq

peers/js/node_modules/.package-lock.json: peers/js/package.json peers/js/package-lock.json
	cd peers/js && npm ci --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(VENV)/bin/ruff check zguide_py tests tools examples conftest.py

clean:
	rm -rf $(VENV) artifacts build *.egg-info
