"""``finsent sql``: read-only SQL over the sentiment store."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from typing import Any

import click

from streams.settings import Settings
from streams.sinks.clickhouse import QueryResult, SentimentStore


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def _as_table(result: QueryResult) -> str:
    cells = [[str(_plain(v)) for v in row] for row in result.rows]
    widths = [
        max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)
    ]
    lines = ["  ".join(n.ljust(w) for n, w in zip(result.columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines)


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Bind {NAME:Type} in the query; repeat for several.",
)
@click.pass_obj
def sql(settings: Settings, query: str, fmt: str, params: tuple[str, ...]) -> None:
    """Run a read-only QUERY on the sentiment store (FINSENT_CLICKHOUSE).

    Tables: sentiment_docs (one row per document and model version) and sentiment_mentions
    (one per document and ticker). Both are ReplacingMergeTree: add FINAL to see each
    document once. Example:

        finsent sql "SELECT ticker, avg(score) FROM sentiment_mentions FINAL GROUP BY ticker"
    """
    bound = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise click.BadParameter(f"{param!r} is not NAME=VALUE", param_hint="--param")
        bound[name] = value
    store = SentimentStore.open(settings.clickhouse.dsn)
    try:
        result = store.query(query, bound)
    finally:
        store.close()
    if fmt == "json":
        rows = [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows]
        click.echo(json.dumps(rows, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([_plain(v) for v in row] for row in result.rows)
    else:
        click.echo(_as_table(result))
