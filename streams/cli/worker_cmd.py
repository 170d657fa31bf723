"""``finsent worker``: the Faust scoring worker."""

from __future__ import annotations

import click

from streams.broker import ensure_broker
from streams.settings import Settings, redact_dsn


@click.command()
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Stop once every record on the raw topics is stored or dead-lettered (for batch runs).",
)
@click.pass_obj
def worker(settings: Settings, exit_when_done: bool) -> None:
    """Score news.raw and filings.raw into ClickHouse and sentiment.scored.

    Batches of up to FINSENT_BATCH_MAX records (or what arrived within FINSENT_BATCH_WITHIN
    seconds) go through the classifier together. Offsets are committed only after ClickHouse
    has the rows; invalid records go to sentiment.deadletter with their reason. Stop with
    Ctrl-C.
    """
    from streams.worker import run_worker  # Faust and the model runtime load only here

    bootstrap = ensure_broker(settings)
    click.echo(
        f"worker: kafka {bootstrap}, group {settings.kafka.consumer_group}, "
        f"store {redact_dsn(settings.clickhouse.dsn)}",
        err=True,
    )
    run_worker(settings, bootstrap, exit_when_done=exit_when_done)
