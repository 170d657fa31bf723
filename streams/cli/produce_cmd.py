"""``finsent produce``: replay the real files under FINSENT_DATA onto the raw topics."""

from __future__ import annotations

from pathlib import Path

import click

from streams.broker import ensure_broker, ensure_project_topics
from streams.producer import produce as send
from streams.settings import Settings
from streams.sources import SOURCES, get_source

_LIMIT = click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Send only the first N records."
)
_RATE = click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Records per second [default: as fast as possible].",
)


def _replay(
    settings: Settings,
    family: str,
    source: str,
    limit: int | None,
    rate: float | None,
    path: Path | None = None,
) -> None:
    records = get_source(family, source)(settings.data_dir, path).records(limit)
    bootstrap = ensure_broker(settings)
    ensure_project_topics(bootstrap, settings.kafka)
    topic = settings.kafka.news_topic if family == "news" else settings.kafka.filings_topic
    sent = send(bootstrap, topic, records, rate=rate)
    click.echo(f"sent {sent} {source} records to {topic} at {bootstrap}")


@click.group()
def produce() -> None:
    """Replay real news, filings or FOMC texts onto Kafka, oldest first.

    Records follow streams/schemas/raw-record.v1.json. Rows a source cannot complete (a
    headline without a timestamp) are sent as they are, so the worker dead-letters them.
    """


@produce.command()
@click.option(
    "--source", type=click.Choice(list(SOURCES["news"])), default="benzinga", show_default=True
)
@_LIMIT
@_RATE
@click.pass_obj
def news(settings: Settings, source: str, limit: int | None, rate: float | None) -> None:
    """Headlines and summaries to news.raw (Benzinga, Seeking Alpha, BBC RSS)."""
    _replay(settings, "news", source, limit, rate)


@produce.command()
@click.option(
    "--source", type=click.Choice(list(SOURCES["filings"])), default="8k", show_default=True
)
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=True, path_type=Path))
@_LIMIT
@_RATE
@click.pass_obj
def filings(
    settings: Settings, source: str, path: Path | None, limit: int | None, rate: float | None
) -> None:
    """SEC filings to filings.raw, one record per filing with its items as sections.

    8k: the pre-split 8-K items (JSONL). edgar-html: raw EDGAR documents (inline-XBRL HTML,
    EX-99 exhibits, full-text .txt submissions) from PATH, a folder or one file [default: the
    samples under FINSENT_DATA]; items are detected, boilerplate and tables left out.
    """
    if path is not None and source != "edgar-html":
        raise click.UsageError("PATH is only read by --source edgar-html")
    _replay(settings, "filings", source, limit, rate, path)


@produce.command()
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(list(SOURCES["fomc"])),
    multiple=True,
    default=("statements",),
    show_default=True,
    help="Which texts; repeat for several (minutes and press conferences are long).",
)
@_LIMIT
@_RATE
@click.pass_obj
def fomc(settings: Settings, kinds: tuple[str, ...], limit: int | None, rate: float | None) -> None:
    """Federal Reserve statements, minutes and press conferences to filings.raw (kind fomc)."""
    for kind in dict.fromkeys(kinds):
        _replay(settings, "fomc", kind, limit, rate)
