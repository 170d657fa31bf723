# Two commands do all the set-up on a fresh machine:
#   make demo   broker + model + replay real news, 8-K items, EDGAR HTML filings and FOMC
#               statements + worker + summary tables
#   make test   the test suite against a real broker, embedded ClickHouse and the ONNX model
# Both create .venv, install the package, fetch the Kafka jars and build the model if missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FINSENT := $(BIN)/finsent

DEMO_NEWS ?= 2000

.PHONY: help install model kafka demo test lint bench clean

help:
	@echo "make demo   run the main job on real data (starts Kafka, builds the model if missing)"
	@echo "make test   run the test suite"
	@echo "make bench  served model vs transformers pipeline, docs/s as JSON"
	@echo "make lint   ruff"
	@echo "make clean  remove var/ (local broker data and embedded ClickHouse)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

model: install
	$(FINSENT) -v model build

kafka: install
	$(FINSENT) kafka start

demo: model kafka
	@start=$$(date +%s); \
	$(FINSENT) produce news --source benzinga --limit $(DEMO_NEWS) && \
	$(FINSENT) produce filings --source 8k && \
	$(FINSENT) produce filings --source edgar-html && \
	$(FINSENT) produce fomc --kind statements && \
	$(FINSENT) -v worker --exit-when-done 2> var/demo-worker.log && \
	echo "== sentiment per ticker (top 25 by documents) ==" && \
	$(FINSENT) sql "SELECT ticker, count() AS docs, round(avg(score), 3) AS avg_score, \
	    countIf(label = 'positive') AS positive, countIf(label = 'neutral') AS neutral, \
	    countIf(label = 'negative') AS negative, max(published_at) AS latest \
	    FROM sentiment_mentions FINAL GROUP BY ticker ORDER BY docs DESC, ticker LIMIT 25" && \
	echo "== Apple 10-K by section (score, most negative / most positive sentence) ==" && \
	$(FINSENT) sql "SELECT section, section_title AS title, chunks, round(score, 3) AS score, \
	    round(evidence_negative_score, 2) AS neg, substring(evidence_negative, 1, 70) AS most_negative, \
	    round(evidence_positive_score, 2) AS pos, substring(evidence_positive, 1, 70) AS most_positive \
	    FROM sentiment_sections FINAL WHERE doc_id = 'edgar:320193:10-K:2024-09-28' \
	    ORDER BY section_index" && \
	echo "== stored ==" && \
	$(FINSENT) sql "SELECT kind, source, count() AS documents FROM sentiment_docs FINAL \
	    GROUP BY kind, source ORDER BY kind, source" && \
	$(FINSENT) sql "SELECT count() AS documents_stored FROM sentiment_docs FINAL" && \
	echo "demo finished in $$(( $$(date +%s) - start )) s (worker log: var/demo-worker.log)"

test: model
	$(BIN)/python -m pytest

bench: model
	$(FINSENT) bench model --json

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	-$(FINSENT) kafka stop
	rm -rf var
