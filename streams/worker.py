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
from streams.broker import ensure_topics, project_topics
from streams.lag import group_lag
from streams.pipeline import Scorer, novelty_index
from streams.settings import Settings
from streams.sinks.clickhouse import SentimentStore

log = logging.getLogger(__name__)

DONE_CHECK_S = 2.0


def run_worker(settings: Settings, bootstrap: str, *, exit_when_done: bool = False) -> None:
    """Run until stopped (SIGINT/SIGTERM), or with ``exit_when_done`` until nothing is left.

    "Done" means the group has committed every offset the raw topics hold, which happens only
    after each of those records is stored or dead-lettered.
    """
    kafka = settings.kafka
    classifier = load_classifier(settings.model, settings.data_dir)
    log.info("model %s on %s", classifier.version, classifier.provider)
    tickers = TickerIndex.from_data_dir(settings.data_dir)
    store = SentimentStore.open(settings.clickhouse.dsn)
    raw_topics = (kafka.news_topic, kafka.filings_topic)
    ensure_topics(bootstrap, project_topics(kafka))
    app, topics = create_app(settings, bootstrap)
    linker = EntityLinker.from_data_dir(settings.data_dir, tickers)
    scorer = Scorer(classifier, tickers, linker, novelty_index(settings.novelty))
    agent = ScoringAgent(scorer, store, topics, settings.worker)
    agent.attach(app)

    if exit_when_done:

        @app.timer(DONE_CHECK_S)
        async def stop_when_caught_up() -> None:
            lag = await asyncio.get_running_loop().run_in_executor(
                None, group_lag, bootstrap, kafka.consumer_group, raw_topics
            )
            remaining = sum(lag.values())
            log.info("records not yet committed: %d", remaining)
            if remaining == 0:
                log.warning("every record is stored or dead-lettered; stopping")
                os.kill(os.getpid(), signal.SIGTERM)  # the worker's own clean shutdown path

    worker = faust.Worker(app, loglevel=logging.getLogger().level, override_logging=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        agent.close()
        store.close()
