"""The ``finsent`` command line: one group, one module per subcommand family."""

from __future__ import annotations

import logging
import sys

import click

from streams.errors import FinsentError
from streams.settings import load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """finsent: live financial sentiment from news and filings.

    Records arrive on Kafka (news.raw, filings.raw), a Faust worker scores them with an ONNX
    classifier and writes them to ClickHouse and to sentiment.scored. Configuration comes from
    FINSENT_* environment variables (see README).
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = load_settings()


def _register() -> None:
    from streams.cli import (
        bench_cmd,
        entities_cmd,
        kafka_cmd,
        model_cmd,
        plot_cmd,
        poll_cmd,
        produce_cmd,
        sql_cmd,
        subscribe_cmd,
        worker_cmd,
    )

    for command in (
        kafka_cmd.kafka,
        model_cmd.model,
        produce_cmd.produce,
        worker_cmd.worker,
        sql_cmd.sql,
        entities_cmd.entities,
        poll_cmd.poll,
        subscribe_cmd.subscribe,
        plot_cmd.plot,
        bench_cmd.bench,
    ):
        cli.add_command(command)


def main() -> None:
    """Console-script entry point: run the CLI and turn project errors into one clear line."""
    _register()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FinsentError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
