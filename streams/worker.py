"""``finsent worker``: load the model, open the store, run the Faust scoring agent."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import faust

from features.entities import EntityLinker
from features.tickers import TickerIndex
from models import load_classifier
from streams.agents import ScoringAgent
from streams.app import create_app
from streams.broker import ensure_project_topics
from streams.lag import group_lag
from streams.metrics import WorkerMetrics
from streams.pipeline import Scorer, novelty_index
from streams.serve import HttpEndpoint, ReadOnlyEngine, advertise, withdraw, worker_app
from streams.settings import Settings
from streams.sinks.clickhouse import SentimentStore
from streams.sinks.rollups import apply_retention

log = logging.getLogger(__name__)

LAG_CHECK_S = 2.0


def run_worker(settings: Settings, bootstrap: str, *, exit_when_done: bool = False) -> None:
    """Run until stopped (SIGINT/SIGTERM), or with ``exit_when_done`` until nothing is left.

    "Done" means the group has committed every offset the raw topics hold, which happens only
    after each of those records is stored or dead-lettered. The worker also serves ``/metrics``
    and, on an embedded store, read-only queries over HTTP (:mod:`streams.serve`).
    """
    kafka = settings.kafka
    classifier = load_classifier(settings.model, settings.data_dir)
    log.info("model %s on %s", classifier.version, classifier.provider)
    tickers = TickerIndex.from_data_dir(settings.data_dir)
    store = SentimentStore.open(settings.clickhouse.dsn)
    apply_retention(store.client, settings.clickhouse.rollup_ttl_days)
    metrics = WorkerMetrics()
    raw_topics = (kafka.news_topic, kafka.filings_topic)
    ensure_project_topics(bootstrap, kafka)
    app, topics = create_app(settings, bootstrap)
    linker = EntityLinker.from_data_dir(settings.data_dir, tickers)
    scorer = Scorer(classifier, tickers, linker, novelty_index(settings.novelty))
    agent = ScoringAgent(scorer, store, topics, settings.worker, on_batch=metrics.observe_batch)
    agent.attach(app)

    @app.timer(LAG_CHECK_S)
    async def track_lag() -> None:
        lag = await asyncio.get_running_loop().run_in_executor(
            None, group_lag, bootstrap, kafka.consumer_group, raw_topics
        )
        metrics.set_lag(lag)
        remaining = sum(lag.values())
        log.info("records not yet committed: %d", remaining)
        if exit_when_done and remaining == 0:
            log.warning("every record is stored or dead-lettered; stopping")
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own clean shutdown path

    store_path = settings.clickhouse.embedded_path
    engine = ReadOnlyEngine(store_path) if store_path is not None else None
    http = settings.http
    endpoint = HttpEndpoint(worker_app(metrics.render, engine), http.host, http.port)
    endpoint.start()
    advertise(settings.var_dir, endpoint.url, store_path)

    worker = faust.Worker(app, loglevel=logging.getLogger().level, override_logging=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        withdraw(settings.var_dir)
        endpoint.stop()
        agent.close()
        store.close()
