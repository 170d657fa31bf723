"""``finsent subscribe``: scored records as JSON lines, filtered."""

from __future__ import annotations

import json

import click

from streams.cli.options import iso_time
from streams.settings import Settings


@click.command()
@click.option("--ticker", "tickers", multiple=True, metavar="T", help="Only records naming T.")
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(["news", "filing", "fomc"]),
    help="Only this kind; repeat for several.",
)  # fmt: skip
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--from-beginning", is_flag=True, help="Start at the oldest record the topic holds.")
@click.option(
    "--since", callback=iso_time, metavar="TIME",
    help="Records scored since TIME (ISO 8601, UTC if no zone): the store's history, then live.",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N records.")
@click.option(
    "--idle-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
    help="Stop after SECONDS without a new record (default: wait forever).",
)  # fmt: skip
@click.pass_obj
def subscribe(
    settings: Settings,
    tickers: tuple[str, ...],
    kinds: tuple[str, ...],
    min_confidence: float,
    from_beginning: bool,
    since,
    limit: int | None,
    idle_timeout: float | None,
) -> None:
    """Print scored records from sentiment.scored as JSON lines (contract finsent.scored.v1).

    Without --from-beginning or --since only new records come. Example:

    \b
        finsent subscribe --ticker AAPL --ticker MSFT --min-confidence 0.8 --limit 10
    """
    from streams.client import subscribe as records

    if since is not None and from_beginning:
        raise click.UsageError("--since and --from-beginning exclude each other")
    for record in records(
        settings,
        tickers=tickers,
        kinds=kinds,
        min_confidence=min_confidence,
        since=since,
        from_beginning=from_beginning,
        limit=limit,
        idle_timeout_s=idle_timeout,
    ):
        click.echo(json.dumps(record.to_json(), ensure_ascii=False))
