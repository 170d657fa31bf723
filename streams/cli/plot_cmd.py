"""``finsent plot``: a ticker's score and document volume over time, as a PNG."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from streams.cli.options import iso_time
from streams.settings import Settings


@click.command()
@click.option("--ticker", required=True, metavar="T", help="The ticker to draw.")
@click.option(
    "--since", callback=iso_time, metavar="TIME", help="First time to draw (ISO 8601); default all."
)
@click.option(
    "--per", type=click.Choice(["minute", "day"]), default="day", show_default=True,
    help="Bucket of the series.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, metavar="FILE.png"
)
@click.pass_obj
def plot(settings: Settings, ticker: str, since: datetime | None, per: str, out: Path) -> None:
    """Draw TICKER's average score and its document count over time into FILE.png.

    finsent plot --ticker ABX --out abx.png
    """
    from streams.history import History
    from streams.plotting import score_and_volume

    with History.open(settings) as history:
        frame = history.series(ticker, since, daily=per == "day")
    score_and_volume(frame, ticker, per, out)
    click.echo(f"wrote {out} ({len(frame)} {per}s)")
