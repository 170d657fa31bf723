"""``finsent kafka``: run the local Kafka broker (start, stop, status)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from streams.broker import LocalBroker, broker_answers, ensure_project_topics
from streams.settings import Settings


def _port_of(settings: Settings) -> int:
    return int(settings.kafka.bootstrap.rpartition(":")[2])


@click.group()
def kafka() -> None:
    """The local Kafka broker (KRaft, one node on 127.0.0.1).

    The broker's jars come from Maven Central on first start (needs `java` >= 17 and `mvn`); its
    data, logs and pid file live under $FINSENT_VAR/kafka. With FINSENT_KAFKA_BOOTSTRAP set,
    finsent uses that broker instead and never starts a local one.
    """


@kafka.command()
@click.option(
    "--port", type=int, default=None, help="Client port [default: from the bootstrap, 9092]."
)
@click.option(
    "--controller-port", type=int, default=9093, show_default=True, help="KRaft controller port."
)
@click.option("--heap", default="512m", show_default=True, help="JVM heap (-Xmx), e.g. 1g.")
@click.option(
    "--timeout",
    type=float,
    default=60,
    show_default=True,
    help="Seconds to wait for the broker to answer.",
)
@click.option(
    "--topics/--no-topics",
    default=True,
    show_default=True,
    help="Also create finsent's topics (news, filings, scored, deadletter) if missing.",
)
@click.pass_obj
def start(
    settings: Settings,
    port: int | None,
    controller_port: int,
    heap: str,
    timeout: float,
    topics: bool,
) -> None:
    """Start the local broker in the background and wait until it answers.

    Starting a broker that already runs is a no-op. The first start fetches the jars with
    Maven (cached in ~/.m2) and formats the storage.
    """
    if settings.kafka.external:
        bootstrap = settings.kafka.bootstrap
        state = "answering" if broker_answers(bootstrap) else "NOT answering"
        click.echo(
            f"FINSENT_KAFKA_BOOTSTRAP={bootstrap} is set ({state}); not starting a local broker."
        )
        return
    broker = LocalBroker(
        settings.var_dir,
        port=port or _port_of(settings),
        controller_port=controller_port,
        heap=heap,
    )
    status = broker.start(timeout=timeout)
    click.echo(f"Kafka running on {status.bootstrap} (pid {status.pid}); logs in {broker.home}")
    if topics:
        wanted = ensure_project_topics(status.bootstrap, settings.kafka)
        click.echo("topics: " + ", ".join(f"{t} ({n})" for t, n in wanted.items()))


@kafka.command()
@click.option(
    "--timeout", type=float, default=30, show_default=True, help="Seconds before SIGKILL."
)
@click.pass_obj
def stop(settings: Settings, timeout: float) -> None:
    """Stop the local broker (SIGTERM, then SIGKILL after --timeout). Data is kept."""
    broker = LocalBroker(settings.var_dir, port=_port_of(settings))
    pid = broker.status().pid
    if broker.stop(timeout=timeout):
        click.echo(f"Kafka stopped (pid {pid}).")
    else:
        click.echo(f"No local Kafka running from {broker.home}.")


@kafka.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option(
    "--port", type=int, default=None, help="Client port [default: from the bootstrap, 9092]."
)
@click.pass_obj
def status(settings: Settings, as_json: bool, port: int | None) -> None:
    """Show whether the broker runs and answers (exit status 0 either way).

    JSON fields: running, pid, bootstrap, answering, external.
    """
    if settings.kafka.external:
        bootstrap = settings.kafka.bootstrap
        info = {
            "running": None,
            "pid": None,
            "bootstrap": bootstrap,
            "answering": broker_answers(bootstrap),
            "external": True,
        }
    else:
        broker = LocalBroker(settings.var_dir, port=port or _port_of(settings))
        info = {**asdict(broker.status()), "external": False}
    if as_json:
        click.echo(json.dumps(info))
        return
    if info["external"]:
        click.echo(f"external broker (FINSENT_KAFKA_BOOTSTRAP): {info['bootstrap']}")
    elif info["running"]:
        click.echo(f"local broker: running (pid {info['pid']})")
    else:
        click.echo("local broker: not running")
    click.echo(f"{info['bootstrap']}: {'answering' if info['answering'] else 'not answering'}")
