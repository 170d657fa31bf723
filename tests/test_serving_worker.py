"""What users touch while the worker runs: subscriptions, SQL, metrics and plots.

Real broker, real ONNX model, the worker in its own process owning the embedded ClickHouse;
every reader here reaches the store through the worker's HTTP endpoint.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.broker import ensure_project_topics
from streams.client import subscribe
from streams.lag import group_lag
from streams.queries import EXAMPLES
from streams.serve import discover
from streams.settings import load_settings
from streams.sources import get_source

pytestmark = [pytest.mark.integration, pytest.mark.model]

TIMEOUT_S = 600


class RunningWorker:
    """An isolated deployment with a worker process that keeps running."""

    def __init__(self, bootstrap: str, tmp: Path) -> None:
        self.env = {
            **os.environ,
            "FINSENT_KAFKA_BOOTSTRAP": bootstrap,
            "FINSENT_TOPIC_PREFIX": f"s{uuid.uuid4().hex[:8]}.",
            "FINSENT_CLICKHOUSE": f"chdb://{tmp / 'clickhouse'}",
            "FINSENT_VAR": str(tmp / "var"),
            "FINSENT_BATCH_MAX": "16",
            "FINSENT_HTTP_PORT": "0",
        }
        self.settings = load_settings(self.env)
        self.bootstrap = bootstrap
        ensure_project_topics(bootstrap, self.settings.kafka)
        self.proc: subprocess.Popen | None = None
        self.sent: list[str] = []

    def send(self, records: list[dict]) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap)
        for record in records:
            topic = self.settings.kafka.filings_topic if record["kind"] == "filing" else None
            producer.send(topic or self.settings.kafka.news_topic, json.dumps(record).encode())
        producer.flush()
        producer.close()
        self.sent += [r["doc_id"] for r in records if "published_at" in r]  # others: dead letters

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "-v", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(self.env["FINSENT_VAR"]).parent / "worker.log", "w"),  # noqa: SIM115
        )

    def lag(self) -> int:
        kafka = self.settings.kafka
        topics = (kafka.news_topic, kafka.filings_topic)
        return sum(group_lag(self.bootstrap, kafka.consumer_group, topics).values())

    def wait_until_caught_up(self) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while self.lag() or self.url() is None:
            assert self.proc.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not catch up"
            time.sleep(0.5)

    def url(self) -> str | None:
        return discover(self.settings.var_dir, self.settings.clickhouse.embedded_path)

    def client(self):
        host_port = self.url().removeprefix("http://")
        host, port = host_port.rsplit(":", 1)
        return clickhouse_connect.get_client(host=host, port=int(port))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "streams", "-v", *args],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker(kafka_bootstrap, served_model, data_dir, tmp_path_factory):
    """A worker that has scored a first batch of real news and filings, still running."""
    running = RunningWorker(kafka_bootstrap, tmp_path_factory.mktemp("serving"))
    running.send(get_source("news", "benzinga")(data_dir).records(limit=80))
    running.send(get_source("filings", "8k")(data_dir).records(limit=6))
    running.start()
    running.wait_until_caught_up()
    yield running
    running.stop()
    assert running.url() is None, "the worker withdraws its endpoint when it stops"


def _busiest_ticker(worker: RunningWorker) -> str:
    return (
        worker.client()
        .query(
            "SELECT ticker FROM sentiment_mentions FINAL GROUP BY ticker "
            "ORDER BY count() DESC, ticker LIMIT 1"
        )
        .result_rows[0][0]
    )


def _stored(worker: RunningWorker, where: str, **params) -> set[str]:
    rows = (
        worker.client()
        .query(f"SELECT doc_id FROM sentiment_docs FINAL WHERE {where}", parameters=params)
        .result_rows
    )
    return {row[0] for row in rows}


def _describe(worker: RunningWorker, doc_ids: set[str]) -> str:
    rows = (
        worker.client()
        .query(
            "SELECT doc_id, tickers, kind, confidence, scored_at FROM sentiment_docs FINAL "
            "WHERE doc_id IN {ids:Array(String)}",
            parameters={"ids": sorted(doc_ids)},
        )
        .result_rows
    )
    return f"differ: {rows}"


def test_a_subscriber_receives_exactly_the_records_of_its_filter(worker, data_dir):
    ticker = _busiest_ticker(worker)
    # A confidence threshold in the widest gap between stored confidences (the model's bunch
    # near 1), so that no record sits within rounding of it (float32 in the store, 6 decimals
    # on the topic); some records fall below it, some above.
    stored = worker.client().query("SELECT confidence FROM sentiment_docs FINAL").result_rows
    values = sorted({row[0] for row in stored})
    inner = values[len(values) // 10 : len(values) - len(values) // 10]
    low, high = max(itertools.pairwise(inner), key=lambda pair: pair[1] - pair[0])
    assert high - low > 1e-4
    threshold = (low + high) / 2
    got, errors = [], []
    before = datetime.now(UTC)

    def listen() -> None:
        try:
            for record in subscribe(
                worker.settings, tickers=[ticker], kinds=["news"], min_confidence=threshold,
                from_beginning=True, idle_timeout_s=20,
            ):  # fmt: skip
                got.append(record)
        except Exception as exc:  # surfaced in the main thread below
            errors.append(exc)

    listener = threading.Thread(target=listen)
    listener.start()
    more = get_source("news", "benzinga")(data_dir).records(limit=200)[80:]
    worker.send(more)  # scored while the subscriber listens
    worker.wait_until_caught_up()
    listener.join(timeout=TIMEOUT_S)
    assert not errors and not listener.is_alive()

    expected = _stored(
        worker, "has(tickers, {t:String}) AND kind = 'news' AND confidence >= {c:Float64}",
        t=ticker, c=threshold,
    )  # fmt: skip
    ids = [r.doc_id for r in got]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected, _describe(worker, set(ids) ^ expected)
    assert set(ids) & set(r["doc_id"] for r in more), "some came while the worker scored them"
    assert len(expected) < len(_stored(worker, "has(tickers, {t:String})", t=ticker))
    assert all(r.confidence >= threshold and ticker in r.tickers for r in got)

    # --since: the store's history through the worker, then live; the same filter, no repeats.
    cli = worker.cli(
        "subscribe", "--ticker", ticker, "--kind", "news", "--min-confidence", str(threshold),
        "--since", before.isoformat(), "--idle-timeout", "3",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-3000:]
    lines = [json.loads(line) for line in cli.stdout.splitlines()]
    since_ids = {r["doc_id"] for r in lines}
    assert len(lines) == len(since_ids)
    since_expected = expected & _stored(worker, "scored_at >= {b:DateTime64(3)}", b=before)
    assert since_ids == since_expected, _describe(worker, since_ids ^ since_expected)
    assert since_ids and all(r["schema"] == "finsent.scored.v1" for r in lines)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_query_runs_while_the_worker_owns_the_store(worker, name):
    takes_ticker = any(p.name == "ticker" for p in EXAMPLES[name].params)
    params = ["-p", f"ticker={_busiest_ticker(worker)}"] if takes_ticker else []
    result = worker.cli("sql", "--example", name, "--format", "json", *params)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the worker owns" in result.stderr  # it went through the worker's endpoint
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    if name in ("latest", "minute_series", "daily_series", "ewm_score", "negative_filings_week"):
        assert rows, f"{name} found nothing in the scored records"


def test_clickhouse_connect_reads_the_worker_and_cannot_write(worker):
    client = worker.client()
    count = client.query("SELECT count() FROM sentiment_docs FINAL").result_rows[0][0]
    assert count == len(set(worker.sent))
    with pytest.raises(DatabaseError, match="164"):
        client.command("TRUNCATE TABLE sentiment_docs")
    assert client.query("SELECT count() FROM sentiment_docs FINAL").result_rows[0][0] == count


def test_the_worker_exposes_prometheus_metrics(worker):
    with urllib.request.urlopen(worker.url() + "/metrics") as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    scored = {s.labels["outcome"]: s.value for s in families["finsent_records"].samples
              if s.name == "finsent_records_total"}  # fmt: skip
    stored = worker.client().query("SELECT count() FROM sentiment_docs").result_rows[0][0]
    assert scored["scored"] == stored  # every stored row was counted once
    assert any(
        s.name.endswith("_count") and s.value > 0 for s in families["finsent_batch_size"].samples
    )
    assert "finsent_consumer_lag" in families and "finsent_latency_seconds" in families


def test_plot_draws_a_png_while_the_worker_runs(worker, tmp_path):
    out = tmp_path / "ticker.png"
    result = worker.cli("plot", "--ticker", _busiest_ticker(worker), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
