"""The local Kafka broker: lifecycle, topics, a real produce/consume, clear errors. No mocks."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from streams.broker import (
    LocalBroker,
    broker_answers,
    ensure_broker,
    ensure_topics,
    free_port,
)
from streams.errors import BrokerError
from streams.settings import load_settings

LIBS = load_settings().var_dir / "kafka" / "libs"  # shared jar cache, fetched once


def _partitions(bootstrap: str) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
    finally:
        admin.close()


def test_broker_answers_is_false_for_closed_and_non_kafka_ports() -> None:
    assert broker_answers(f"127.0.0.1:{free_port()}", timeout=0.5) is False
    assert broker_answers("not-a-host-name.invalid:9092", timeout=0.5) is False
    assert broker_answers("garbage", timeout=0.5) is False


@pytest.mark.integration
def test_start_status_stop_round_trip(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, port=free_port(), controller_port=free_port(), libs_dir=LIBS)
    before = broker.status()
    assert (before.running, before.pid, before.answering) == (False, None, False)
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    try:
        started = broker.start(timeout=120)
        assert started.running and started.answering and started.pid
        assert broker.pid_path.read_text().strip() == str(started.pid)
        assert (broker.data_dir / "meta.properties").is_file()
        assert broker_answers(broker.bootstrap)
        # starting again is a no-op: same process
        assert broker.start().pid == started.pid
        # another handle on the same var dir sees the same broker
        assert LocalBroker(tmp_path, port=broker.port, libs_dir=LIBS).status().pid == started.pid
    finally:
        stopped = broker.stop()
    assert stopped is True
    after = broker.status()
    assert (after.running, after.pid, after.answering) == (False, None, False)
    assert not broker.pid_path.exists()
    assert broker.stop() is False  # nothing left to stop


@pytest.mark.integration
def test_broker_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, port=free_port(), controller_port=free_port(), libs_dir=LIBS)
    broker.start(timeout=120)
    broker.stop()
    meta = broker.data_dir / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))  # data of another node
    with pytest.raises(BrokerError, match=r"(?s)exited during start.*Stored node id 7"):
        broker.start(timeout=60)
    assert broker.status().running is False
    assert not broker.pid_path.exists()


def test_ensure_broker_refuses_an_unreachable_external_broker(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    settings = load_settings({"FINSENT_KAFKA_BOOTSTRAP": bootstrap, "FINSENT_VAR": str(tmp_path)})
    with pytest.raises(BrokerError, match=f"{bootstrap} .*FINSENT_KAFKA_BOOTSTRAP.* not reachable"):
        ensure_broker(settings)
    assert not (tmp_path / "kafka").exists()  # no local broker was started


@pytest.mark.integration
def test_ensure_broker_uses_an_answering_external_broker(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = load_settings(
        {"FINSENT_KAFKA_BOOTSTRAP": kafka_bootstrap, "FINSENT_VAR": str(tmp_path)}
    )
    assert ensure_broker(settings) == kafka_bootstrap
    assert not (tmp_path / "kafka").exists()


@pytest.mark.integration
def test_second_broker_on_a_taken_port_is_refused(kafka_bootstrap: str, tmp_path: Path) -> None:
    port = int(kafka_bootstrap.rpartition(":")[2])
    if not kafka_bootstrap.startswith("127.0.0.1:"):
        pytest.skip("external broker")
    other = LocalBroker(tmp_path, port=port, controller_port=free_port(), libs_dir=LIBS)
    with pytest.raises(BrokerError, match=f"port {port} .* taken by a Kafka broker"):
        other.start(timeout=30)
    assert not other.pid_path.exists()


@pytest.mark.integration
def test_ensure_topics_creates_requested_partitions_idempotently(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    wanted = {f"t-three-{suffix}": 3, f"t-one-{suffix}": 1, f"t-five-{suffix}": 5}
    ensure_topics(kafka_bootstrap, wanted)
    got = _partitions(kafka_bootstrap)
    assert {name: got.get(name) for name in wanted} == wanted
    ensure_topics(kafka_bootstrap, wanted)  # second call: no error, no change
    ensure_topics(kafka_bootstrap, {f"t-three-{suffix}": 7})  # existing topic left alone
    assert {name: _partitions(kafka_bootstrap).get(name) for name in wanted} == wanted


@pytest.mark.integration
def test_produce_consume_round_trip(kafka_bootstrap: str) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 2})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(20)}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for key, value in sent.items():
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"test-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=20_000,
    )
    received: dict[bytes, bytes] = {}
    try:
        consumer.subscribe([topic])
        for message in consumer:
            received[message.key] = message.value
            if len(received) == len(sent):
                break
        consumer.commit()
        committed = sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in (0, 1))
    finally:
        consumer.close()
    assert received == sent
    assert committed == len(sent)


def test_clear_error_when_java_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    broker = LocalBroker(tmp_path / "var", port=free_port(), controller_port=free_port())
    with pytest.raises(BrokerError, match=r"`java` is not on PATH.*apt-get install openjdk"):
        broker.start(timeout=5)
    assert not broker.pid_path.exists()


@pytest.mark.skipif(shutil.which("java") is None, reason="needs java, to reach the mvn check")
def test_clear_error_when_mvn_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java_only = tmp_path / "bin"
    java_only.mkdir()
    os.symlink(os.path.realpath(shutil.which("java") or ""), java_only / "java")
    monkeypatch.setenv("PATH", str(java_only))
    broker = LocalBroker(tmp_path / "var", port=free_port(), controller_port=free_port())
    with pytest.raises(BrokerError, match=r"`mvn` is not on PATH.*maven"):
        broker.fetch_jars()
