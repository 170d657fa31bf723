"""``finsent sql``: read-only SQL over the sentiment store, and named example queries."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from typing import Any

import click

from streams.queries import EXAMPLES, example
from streams.reader import open_reader
from streams.settings import Settings
from streams.sinks.clickhouse import QueryResult


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


def _list_examples() -> str:
    lines = []
    for named in EXAMPLES.values():
        lines.append(f"{named.name}\n    {named.summary}")
        for p in named.params:
            if p.required:
                default = "required"
            else:
                default = f"default {p.default}" if p.default else "optional"
            lines.append(f"    -p {p.name}=...  {p.help}; {p.type}, {default}")
    return "\n".join(lines)


def _echo(result: QueryResult, fmt: str) -> None:
    if fmt == "json":
        rows = [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows]
        click.echo(json.dumps(rows, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([_plain(v) for v in row] for row in result.rows)
    else:
        click.echo(_as_table(result))


@click.command()
@click.argument("query", required=False)
@click.option("--example", "example_name", metavar="NAME", help="Run a named example query.")
@click.option("--list-examples", is_flag=True, help="List the example queries and parameters.")
@click.option("--show-sql", is_flag=True, help="Print the example's SQL instead of running it.")
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
    help="Bind {NAME:Type} in the query (values are bound, never pasted); repeat for several.",
)
@click.pass_obj
def sql(
    settings: Settings,
    query: str | None,
    example_name: str | None,
    list_examples: bool,
    show_sql: bool,
    fmt: str,
    params: tuple[str, ...],
) -> None:
    """Run a read-only QUERY, or a named --example, on the sentiment store (FINSENT_CLICKHOUSE).

    Tables: sentiment_docs (one row per document and model version), sentiment_mentions (one
    per document and ticker), both ReplacingMergeTree (add FINAL to see each document once),
    and sentiment_minute (per-ticker per-minute rollups; read with uniqExactMerge(docs),
    arrayAvg(maxMapMerge(scores).2)). While `finsent worker` owns the embedded store, the query
    goes through the worker. Examples:

    \b
        finsent sql "SELECT ticker, avg(score) FROM sentiment_mentions FINAL GROUP BY ticker"

        finsent sql --example daily_series -p ticker=ABX

        finsent sql --list-examples
    """
    if list_examples:
        click.echo(_list_examples())
        return
    if (query is None) == (example_name is None):
        raise click.UsageError("give a QUERY or --example NAME (see --list-examples)")
    bound: dict[str, str | None] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise click.BadParameter(f"{param!r} is not NAME=VALUE", param_hint="--param")
        bound[name] = value
    if example_name is not None:
        named = example(example_name)
        bound = named.bind({k: v for k, v in bound.items() if v is not None})
        query = named.sql
        if show_sql:
            click.echo(query.strip())
            return
    store = open_reader(settings)
    try:
        result = store.query(query, bound)
    finally:
        store.close()
    _echo(result, fmt)
