# One command to run the platform, one to pass the tests. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow reliability bench bench-platform bench-sla bench-trace bench-portal screenshots lint typecheck check clean lock tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## run: the five services on the embedded broker and database (or real ones: see README)
run: $(STAMP)
	$(BIN)/lapor-devstack

## tools: promtool and Prometheus (alert rule tests, a real scrape), kubectl (kustomize),
## docker-compose (the compose file as Debian's reads it), Chromium and its driver (browser
## tests) and Node (the operators' custom resource schemas, pinned in tests/crd), from Debian's
## packages and npm when missing
CRD_STAMP := tests/crd/node_modules/.installed
tools: $(CRD_STAMP)
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v kubectl >/dev/null && command -v docker-compose >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends prometheus kubectl docker-compose chromium chromium-driver >/dev/null; }
	@$(SUDO) systemctl disable --now prometheus >/dev/null 2>&1 || true  # tests start their own

$(CRD_STAMP): tests/crd/package.json tests/crd/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	npm ci --prefix tests/crd --no-audit --no-fund --loglevel=error
	touch $(CRD_STAMP)

## test: lint, type-check, then every test that is not marked slow
test: $(STAMP) tools check
	$(BIN)/pytest

## test-slow: fault-injection runs and benchmarks
test-slow: $(STAMP) tools
	$(BIN)/pytest -m slow || [ $$? -eq 5 ]  # 5: no slow test collected yet

## reliability: the whole reliability suite, slow parts too: fault injection (kill -9 of each
## service, broker and database paused 30 s, under load), the notify crash, fuzzing of every API,
## authentication, Kafka security, bad input; prints the figures (scenarios, cases, lost,
## duplicated) at the end. Its fast parts also run in `make test`.
reliability: $(STAMP) tools
	$(BIN)/pytest -m reliability

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	touch $(BENCH_STAMP)

## bench: every benchmark; figures and ratios go to bench/results/
bench: bench-platform bench-sla bench-portal

## bench-platform: ceilings (Kafka, MongoDB, bare ASGI), intake saturation, end-to-end rate,
## latency at 25/50/90 % of saturation, RSS; JSON, Markdown and a PNG plot
bench-platform: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.platform_load

## bench-trace: where one complaint's database commands go, collection by collection
bench-trace: $(BENCH_STAMP)
	$(BIN)/python -m bench.command_trace

## bench-portal: each page of the portal and the console, timed (target: p95 under 100 ms)
bench-portal: $(STAMP)
	$(BIN)/python -m bench.portal_pages

## bench-sla: one million open clocks, ten thousand falling due at once (BENCH_CLOCKS to change)
bench-sla: $(STAMP)
	$(BIN)/python -m bench.sla_timers

## screenshots: the portal's main pages in headless Chromium, into docs/screenshots/
screenshots: $(STAMP) tools
	$(BIN)/python -m devstack.screenshots

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

## lock: re-pin constraints.txt to what .venv holds (after changing pyproject.toml)
lock: $(STAMP)
	{ echo "# Every package CI installs, pinned (make lock regenerates this from .venv)."; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^lapor'; } > constraints.txt
