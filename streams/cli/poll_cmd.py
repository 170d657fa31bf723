"""``finsent poll``: live sources, polled until stopped, each record sent once across restarts."""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Protocol

import click

from streams.broker import ensure_broker, ensure_project_topics
from streams.errors import ConfigError, FetchError
from streams.producer import produce as send
from streams.settings import Settings
from streams.sources.polling import PoliteClient, Poll, SeenState

log = logging.getLogger(__name__)


class _Poller(Protocol):
    family: str

    def poll(self, *, limit: int | None = None) -> Poll: ...

    def commit(self, poll: Poll) -> None: ...


def _loop(settings: Settings, pollers: list[_Poller], interval: float, once: bool) -> None:
    bootstrap = ensure_broker(settings)
    ensure_project_topics(bootstrap, settings.kafka)
    while True:
        for poller in pollers:
            topic = (
                settings.kafka.news_topic
                if poller.family == "news"
                else (settings.kafka.filings_topic)
            )
            try:
                found = poller.poll()
            except FetchError as exc:
                if once:
                    raise
                log.error("poll failed, trying again in %.0fs: %s", interval, exc)
                continue
            if found.records:
                send(bootstrap, topic, found.records, progress=False)
            poller.commit(found)  # only once Kafka has them: a crash re-sends, never skips
            click.echo(f"sent {len(found.records)} new records to {topic}")
        if once:
            return
        time.sleep(interval)


_INTERVAL = click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds between polls.",
)
_ONCE = click.option("--once", is_flag=True, help="Poll once and exit (e.g. from cron).")


@click.group()
def poll() -> None:
    """Poll live sources and send what is new to Kafka.

    What was sent is remembered in a state file under $FINSENT_VAR/poll/, written after Kafka
    has acknowledged the records: a restarted poller takes nothing twice and loses nothing.
    """


@poll.command()
@click.option(
    "--form", "forms", multiple=True, default=("8-K",), show_default=True,
    help="Form type to take; repeat for several (8-K, 10-K, 10-Q ...).",
)  # fmt: skip
@click.option("--cik", "ciks", multiple=True, help="Only these companies; repeat. Default: all.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day to read on a first run [default: yesterday]; later runs resume.",
)
@_INTERVAL
@_ONCE
@click.pass_obj
def edgar(
    settings: Settings,
    forms: tuple[str, ...],
    ciks: tuple[str, ...],
    since: date | None,
    interval: float,
    once: bool,
) -> None:
    """SEC filings from EDGAR's daily form index to filings.raw.

    Needs FINSENT_SEC_USER_AGENT ("Company Name admin@company.com", which the SEC requires);
    requests are spaced to FINSENT_SEC_RATE per second (default 2, the SEC allows 10). Each
    new filing of the chosen forms is fetched and parsed into items like --source edgar-html.
    """
    from streams.sources.edgar_live import EdgarPoller, edgar_state_name

    cfg = settings.poll
    if not cfg.sec_user_agent:
        raise ConfigError(
            "set FINSENT_SEC_USER_AGENT to a name and contact address, e.g. "
            "'Example Corp admin@example.com': the SEC refuses requests without one"
        )
    state = SeenState(settings.var_dir / "poll" / edgar_state_name(forms, ciks))
    poller = EdgarPoller(
        PoliteClient(cfg.sec_user_agent, cfg.sec_max_rate),
        state,
        base_url=cfg.sec_base_url,
        forms=forms,
        ciks=ciks,
        since=since.date() if since else None,
    )
    _loop(settings, [poller], interval, once)


@poll.command()
@click.argument("urls", nargs=-1, required=True)
@_INTERVAL
@_ONCE
@click.pass_obj
def rss(settings: Settings, urls: tuple[str, ...], interval: float, once: bool) -> None:
    """News items from RSS or Atom feeds (URLS) to news.raw.

    Items are known by their guid (or link); the feed is fetched conditionally (ETag,
    Last-Modified), at most FINSENT_FEED_RATE requests per second.
    """
    from streams.sources.rss import FeedPoller, state_name

    cfg = settings.poll
    client = PoliteClient(cfg.feed_user_agent, cfg.feed_max_rate)
    pollers: list[_Poller] = [
        FeedPoller(client, SeenState(settings.var_dir / "poll" / state_name(url)), url)
        for url in urls
    ]
    _loop(settings, pollers, interval, once)
