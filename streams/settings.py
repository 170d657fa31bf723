"""One typed settings object, read from ``FINSENT_*`` environment variables at the entry point.

Every variable the project reads is named here, next to its default. Nothing reads the
environment at import time: call :func:`load_settings` from the CLI (or a test) and pass the
result down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "finsent"


@dataclass(frozen=True)
class KafkaSettings:
    """Where the broker is and which topics carry what."""

    bootstrap: str = "127.0.0.1:9092"
    # True when FINSENT_KAFKA_BOOTSTRAP was given: use that broker, never start a local one.
    external: bool = False
    news_topic: str = "news.raw"
    filings_topic: str = "filings.raw"
    scored_topic: str = "sentiment.scored"
    deadletter_topic: str = "sentiment.deadletter"
    partitions: int = 4
    consumer_group: str = "finsent-worker"


@dataclass(frozen=True)
class ClickHouseSettings:
    """One DSN: ``chdb://<path>`` (embedded engine) or ``http(s)://user:pass@host:port/db``."""

    dsn: str
    # Days the per-minute rollups keep (TTL on the minute); 0 keeps them forever.
    rollup_ttl_days: int = 0

    def __repr__(self) -> str:  # never print a password
        return f"ClickHouseSettings(dsn={redact_dsn(self.dsn)!r})"

    @property
    def embedded_path(self) -> Path | None:
        """The embedded store's folder (``chdb://`` DSNs), else None."""
        return Path(self.dsn.removeprefix("chdb://")) if self.dsn.startswith("chdb://") else None


@dataclass(frozen=True)
class HttpSettings:
    """The worker's HTTP endpoint: /metrics, and read-only ClickHouse queries on the embedded
    store (a subset of the ClickHouse HTTP interface). Port 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 8124


@dataclass(frozen=True)
class ModelSettings:
    """Where built models are cached and which one the worker serves."""

    cache_dir: Path
    path: Path | None = None  # an explicit model folder overrides the cache lookup
    provider: str = "auto"  # auto | cuda | cpu
    name: str = "default"  # default (permissive data) | research (adds PhraseBank, non-commercial)


@dataclass(frozen=True)
class WorkerSettings:
    """Batching of the classify agent."""

    batch_max: int = 64
    batch_within_s: float = 0.5


@dataclass(frozen=True)
class NoveltySettings:
    """The worker's memory of recent stories (exact repeats and near-duplicates)."""

    max_docs: int = 50_000  # documents remembered (and distinct texts whose verdict is cached)
    window_hours: float = 24.0  # documents further apart in publication time are other stories
    threshold: float = 0.7  # MinHash Jaccard similarity from which a text is a near-duplicate


@dataclass(frozen=True)
class PollSettings:
    """Live sources: who we say we are to the SEC, how fast we ask, where state is kept."""

    sec_user_agent: str = ""  # the SEC requires "Company Name admin@company.com"
    sec_max_rate: float = 2.0  # requests/s; the SEC's fair-access limit is 10
    sec_base_url: str = "https://www.sec.gov"
    feed_max_rate: float = 1.0  # requests/s to a news feed's host
    feed_user_agent: str = "finsent-feed-reader/0.1"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, grouped by concern."""

    data_dir: Path
    var_dir: Path
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings
    model: ModelSettings
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    novelty: NoveltySettings = field(default_factory=NoveltySettings)
    poll: PollSettings = field(default_factory=PollSettings)
    http: HttpSettings = field(default_factory=HttpSettings)


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***``."""
    scheme, sep, rest = dsn.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return dsn
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: the process environment).

    Variables: FINSENT_DATA, FINSENT_VAR, FINSENT_KAFKA_BOOTSTRAP, FINSENT_KAFKA_PARTITIONS,
    FINSENT_TOPIC_PREFIX, FINSENT_CONSUMER_GROUP, FINSENT_CLICKHOUSE, FINSENT_MODEL_CACHE,
    FINSENT_MODEL_PATH, FINSENT_MODEL_PROVIDER, FINSENT_MODEL_NAME, FINSENT_BATCH_MAX,
    FINSENT_BATCH_WITHIN, FINSENT_NOVELTY_MAX_DOCS, FINSENT_NOVELTY_WINDOW_HOURS,
    FINSENT_NOVELTY_THRESHOLD, FINSENT_SEC_USER_AGENT, FINSENT_SEC_RATE, FINSENT_SEC_BASE_URL,
    FINSENT_FEED_RATE, FINSENT_HTTP_HOST, FINSENT_HTTP_PORT, FINSENT_ROLLUP_TTL_DAYS.
    """
    env = os.environ if env is None else env
    data_dir = Path(env.get("FINSENT_DATA") or PROJECT_ROOT.parent / "shared" / "data").resolve()
    var_dir = Path(env.get("FINSENT_VAR") or PROJECT_ROOT / "var").resolve()
    prefix = env.get("FINSENT_TOPIC_PREFIX", "")
    bootstrap = env.get("FINSENT_KAFKA_BOOTSTRAP", "")
    kafka = KafkaSettings(
        bootstrap=bootstrap or KafkaSettings.bootstrap,
        external=bool(bootstrap),
        news_topic=prefix + KafkaSettings.news_topic,
        filings_topic=prefix + KafkaSettings.filings_topic,
        scored_topic=prefix + KafkaSettings.scored_topic,
        deadletter_topic=prefix + KafkaSettings.deadletter_topic,
        partitions=_int(env, "FINSENT_KAFKA_PARTITIONS", KafkaSettings.partitions),
        consumer_group=env.get("FINSENT_CONSUMER_GROUP") or prefix + KafkaSettings.consumer_group,
    )
    dsn = env.get("FINSENT_CLICKHOUSE") or f"chdb://{var_dir / 'clickhouse'}"
    if not dsn.startswith(("chdb://", "http://", "https://")):
        raise ConfigError(
            "FINSENT_CLICKHOUSE must start with chdb://, http:// or https://, "
            f"got {redact_dsn(dsn)!r}"
        )
    model_path = env.get("FINSENT_MODEL_PATH")
    provider = env.get("FINSENT_MODEL_PROVIDER", "auto")
    if provider not in ("auto", "cuda", "cpu"):
        raise ConfigError(f"FINSENT_MODEL_PROVIDER must be auto, cuda or cpu, got {provider!r}")
    model_name = env.get("FINSENT_MODEL_NAME") or ModelSettings.name
    if model_name not in ("default", "research"):
        raise ConfigError(f"FINSENT_MODEL_NAME must be default or research, got {model_name!r}")
    model = ModelSettings(
        cache_dir=Path(env.get("FINSENT_MODEL_CACHE") or _default_cache() / "models"),
        path=Path(model_path) if model_path else None,
        provider=provider,
        name=model_name,
    )
    worker = WorkerSettings(
        batch_max=_int(env, "FINSENT_BATCH_MAX", WorkerSettings.batch_max),
        batch_within_s=_float(env, "FINSENT_BATCH_WITHIN", WorkerSettings.batch_within_s),
    )
    novelty = NoveltySettings(
        max_docs=_int(env, "FINSENT_NOVELTY_MAX_DOCS", NoveltySettings.max_docs),
        window_hours=_float(env, "FINSENT_NOVELTY_WINDOW_HOURS", NoveltySettings.window_hours),
        threshold=_float(env, "FINSENT_NOVELTY_THRESHOLD", NoveltySettings.threshold),
    )
    if novelty.max_docs < 1 or novelty.window_hours < 0 or not 0 < novelty.threshold < 1:
        raise ConfigError(
            "FINSENT_NOVELTY_MAX_DOCS must be >= 1, FINSENT_NOVELTY_WINDOW_HOURS >= 0 and "
            f"FINSENT_NOVELTY_THRESHOLD strictly between 0 and 1, got {novelty}"
        )
    poll = PollSettings(
        sec_user_agent=env.get("FINSENT_SEC_USER_AGENT", "").strip(),
        sec_max_rate=_float(env, "FINSENT_SEC_RATE", PollSettings.sec_max_rate),
        sec_base_url=(env.get("FINSENT_SEC_BASE_URL") or PollSettings.sec_base_url).rstrip("/"),
        feed_max_rate=_float(env, "FINSENT_FEED_RATE", PollSettings.feed_max_rate),
    )
    if not 0 < poll.sec_max_rate <= 10 or poll.feed_max_rate <= 0:
        raise ConfigError(
            "FINSENT_SEC_RATE must lie in (0, 10] (the SEC's fair-access limit) and "
            f"FINSENT_FEED_RATE be positive, got {poll.sec_max_rate} and {poll.feed_max_rate}"
        )
    return Settings(
        data_dir=data_dir,
        var_dir=var_dir,
        kafka=kafka,
        clickhouse=ClickHouseSettings(
            dsn=dsn, rollup_ttl_days=_int(env, "FINSENT_ROLLUP_TTL_DAYS", 0)
        ),
        model=model,
        worker=worker,
        novelty=novelty,
        poll=poll,
        http=HttpSettings(
            host=env.get("FINSENT_HTTP_HOST") or HttpSettings.host,
            port=_int(env, "FINSENT_HTTP_PORT", HttpSettings.port),
        ),
    )
