"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.tickers import TickerIndex
from streams.broker import LocalBroker, broker_answers, free_port
from streams.errors import BrokerError
from streams.settings import load_settings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka bootstrap for the whole test session.

    FINSENT_KAFKA_BOOTSTRAP when set (skipped if it does not answer); otherwise a dedicated
    LocalBroker on free ports with its data in a temporary folder, stopped at session end, so a
    broker the user runs on 9092 is never touched. The jars are shared with the project's var dir.
    """
    external = os.environ.get("FINSENT_KAFKA_BOOTSTRAP")
    if external:
        if not broker_answers(external, timeout=5.0):
            pytest.skip(f"FINSENT_KAFKA_BOOTSTRAP={external} does not answer ApiVersions")
        yield external
        return
    settings = load_settings()
    broker = LocalBroker(
        tmp_path_factory.mktemp("kafka-var"),
        port=free_port(),
        controller_port=free_port(),
        libs_dir=settings.var_dir / "kafka" / "libs",
    )
    try:
        broker.start(timeout=120)
    except BrokerError as exc:
        pytest.fail(f"could not start the test Kafka broker: {exc}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """FINSENT_DATA (default ../shared/data); tests that read real data skip without it."""
    path = load_settings().data_dir
    if not (path / "README.md").exists():
        pytest.skip(f"data folder {path} not found; set FINSENT_DATA")
    return path


@pytest.fixture(scope="session")
def ticker_index(data_dir: Path) -> TickerIndex:
    """The SEC ticker list from the data folder."""
    return TickerIndex.from_data_dir(data_dir)


@pytest.fixture(scope="session")
def served_model(data_dir: Path) -> Path:
    """The model folder the worker serves; built once (and cached) when missing."""
    from models import ensure_model

    return ensure_model(load_settings().model, data_dir)
