"""The worker end to end: real broker, real ONNX model, embedded ClickHouse, real records."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
from kafka import KafkaConsumer, KafkaProducer

from streams.broker import ensure_project_topics
from streams.lag import group_lag
from streams.records import schema
from streams.settings import load_settings
from streams.sinks.clickhouse import SentimentStore
from streams.sources import get_source

pytestmark = [pytest.mark.integration, pytest.mark.model]

WORKER_TIMEOUT_S = 600


def _broken_values(data_dir: Path) -> list[bytes | None]:
    """Real bad input: Benzinga's split CSV rows, plus the ways a producer can go wrong."""
    benzinga = get_source("news", "benzinga")(data_dir).records()
    undated = [json.dumps(r).encode() for r in benzinga if "published_at" not in r]
    assert len(undated) == 4
    good = benzinga[0]
    return [
        *undated,
        b"\xff\xfe not utf-8",
        b'{"doc_id": "x", "kind": "news"',  # truncated JSON
        b"[]",
        json.dumps({**good, "kind": "tweet"}).encode(),
        json.dumps({**good, "title": "   ", "doc_id": "empty"}).encode(),
        None,  # tombstone
        b"[" * 100_000,  # nested past the JSON parser's recursion limit
        json.dumps({**good, "published_at": "0001-01-01T00:00:00+01:00"}).encode(),
        json.dumps({**good, "title": "\ud800"}, ensure_ascii=True).encode(),  # lone surrogate
        json.dumps({**good, "kind": "filing", "doc_id": "title-only"}).encode(),
        b"\xff" * 900_000,  # its dead letter (base64) is larger than Kafka's default 1 MiB
    ]


class Pipeline:
    """One isolated deployment: own topic prefix, consumer group and ClickHouse folder."""

    def __init__(self, bootstrap: str, tmp: Path) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:8]}."
        self.env = {
            **os.environ,
            "FINSENT_KAFKA_BOOTSTRAP": bootstrap,
            "FINSENT_TOPIC_PREFIX": self.prefix,
            "FINSENT_CLICKHOUSE": f"chdb://{tmp / 'clickhouse'}",
            "FINSENT_VAR": str(tmp / "var"),
            "FINSENT_BATCH_MAX": "16",
            "FINSENT_HTTP_PORT": "0",  # never collide with a worker the user runs
        }
        self.settings = load_settings(self.env)
        self.bootstrap = bootstrap
        ensure_project_topics(bootstrap, self.settings.kafka)

    def send(self, topic: str, values: list[bytes | None]) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap)
        for i, value in enumerate(values):
            producer.send(topic, key=f"k{i}".encode(), value=value)
        producer.flush()
        producer.close()

    def worker(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run_until_done(self) -> str:
        proc = self.worker("--exit-when-done")
        out, _ = proc.communicate(timeout=WORKER_TIMEOUT_S)
        assert proc.returncode == 0, out[-4000:]
        return out

    def lag(self) -> int:
        kafka = self.settings.kafka
        return sum(
            group_lag(
                self.bootstrap, kafka.consumer_group, (kafka.news_topic, kafka.filings_topic)
            ).values()
        )

    def read_topic(self, topic: str) -> list:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
            enable_auto_commit=False,
        )
        messages = list(consumer)
        consumer.close()
        return messages

    def count(self, sql: str) -> int:
        store = SentimentStore.open(self.settings.clickhouse.dsn)
        try:
            return store.query(sql).rows[0][0]
        finally:
            store.close()


def test_real_records_are_stored_published_and_bad_ones_dead_lettered(
    kafka_bootstrap, served_model, data_dir, tmp_path
):
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    kafka = pipe.settings.kafka
    news = get_source("news", "benzinga")(data_dir).records(limit=60)
    filings = get_source("filings", "8k")(data_dir).records(limit=8)
    broken = _broken_values(data_dir)
    pipe.send(kafka.news_topic, [json.dumps(r).encode() for r in news] + broken)
    pipe.send(kafka.filings_topic, [json.dumps(r).encode() for r in filings])
    expected = {r["doc_id"] for r in news + filings}

    pipe.run_until_done()

    assert pipe.lag() == 0
    assert pipe.count("SELECT count() FROM sentiment_docs FINAL") == len(expected)
    assert pipe.count("SELECT count() FROM sentiment_docs WHERE chunks > 1") >= 1
    assert pipe.count("SELECT uniqExact(ticker) FROM sentiment_mentions FINAL") > 1

    scored = pipe.read_topic(kafka.scored_topic)
    assert len(scored) == len(expected)
    spec = schema("scored-record.v1")
    payloads = [json.loads(m.value) for m in scored]
    for message, payload in zip(scored, payloads, strict=True):
        jsonschema.validate(payload, spec)
        assert message.key == (payload["tickers"][0].encode() if payload["tickers"] else b"")
    assert {p["doc_id"] for p in payloads} == expected

    dead = [json.loads(m.value) for m in pipe.read_topic(kafka.deadletter_topic)]
    assert len(dead) == len(broken)
    dead_spec = schema("deadletter-record.v1")
    for letter in dead:
        jsonschema.validate(letter, dead_spec)
        assert letter["reason"]
    originals = sorted(base64.b64decode(letter["original_b64"]) for letter in dead)
    assert originals == sorted(v or b"" for v in broken)


def test_a_killed_worker_loses_nothing_and_stores_each_record_once(
    kafka_bootstrap, served_model, data_dir, tmp_path
):
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    news = get_source("news", "seekingalpha")(data_dir).records(limit=240)
    pipe.send(pipe.settings.kafka.news_topic, [json.dumps(r).encode() for r in news])

    proc = pipe.worker()
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while pipe.lag() == len(news) and time.monotonic() < deadline:  # wait for first commits
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < pipe.lag() < len(news), "the kill should land mid-stream"

    pipe.run_until_done()

    assert pipe.lag() == 0
    assert pipe.count("SELECT count() FROM sentiment_docs FINAL") == len(news)
    # at least once on the scored topic: a replayed batch may be published twice
    scored_ids = {
        json.loads(m.value)["doc_id"] for m in pipe.read_topic(pipe.settings.kafka.scored_topic)
    }
    assert scored_ids == {r["doc_id"] for r in news}
