"""The worker's HTTP endpoint: ``/metrics`` and read-only SQL on the embedded store.

chDB runs one ClickHouse engine per process, so while ``finsent worker`` owns the embedded
store nobody else can open it. The worker therefore answers the part of the ClickHouse HTTP
interface that readers use, so that clickhouse-connect (``finsent sql``, ``finsent subscribe
--since``, pandas code) and Grafana's ClickHouse plugin (protocol ``http``) can query it:

- ``GET /ping`` → ``Ok.``
- ``GET|POST /?query=...``: the query is the ``query`` parameter, a line feed and the body
  (as ClickHouse does); ``database``, ``default_format`` (else a trailing ``FORMAT``, else
  TabSeparated) and bound ``param_<name>`` values are honoured; every output format of the
  engine works (Native, RowBinary, JSON, CSV...). Multipart forms too.
- Client settings in the URL are ignored: queries run on their own engine session that is set
  to ``readonly=1``, which the engine enforces (no writes, no DDL, no ``SET``, no file or url
  table functions) and which cannot be changed from a query.

The server listens on loopback by default (``FINSENT_HTTP_HOST``/``FINSENT_HTTP_PORT``) and
writes its address to ``$FINSENT_VAR/worker-http.json`` for readers to discover.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.errors import ConfigError, StoreError
from streams.processes import pid_alive

log = logging.getLogger(__name__)

ENDPOINT_FILE = "worker-http.json"
DEFAULT_FORMAT = "TabSeparated"
# Parameters of the HTTP interface that are not engine settings, or that the server decides.
_TRANSPORT = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout",
    "session_check", "compress", "decompress", "enable_http_compression", "user", "password",
    "client_protocol_version", "wait_end_of_query", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "buffer_size", "quota_key",
}  # fmt: skip
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*(?:SETTINGS\b[^;]*)?;?\s*$", re.I)
_ERROR_CODE = re.compile(r"Code: (\d+)")
# Exception codes the ClickHouse server answers with a 4xx status.
_HTTP_STATUS = {62: 400, 164: 403, 497: 403, 60: 404, 81: 404, 47: 400, 46: 400, 36: 400}


@dataclass(frozen=True)
class Answer:
    """What the engine returned for one query."""

    body: bytes
    fmt: str
    rows_read: int
    bytes_read: int
    elapsed_s: float


class ReadOnlyEngine:
    """Its own session on the process's chDB engine, locked to ``readonly=1``."""

    def __init__(self, path: Path) -> None:
        import chdb  # the engine the store's client already loaded in this process

        self._conn = chdb.connect(os.path.realpath(path))
        self._conn.query("SET readonly = 1")
        self._lock = threading.Lock()
        self.timezone = self._conn.query("SELECT timezone()", "TabSeparated").bytes().decode()
        self.timezone = self.timezone.strip()

    def execute(
        self, sql: str, fmt: str, params: Mapping[str, str], database: str | None
    ) -> Answer:
        """Run one statement; ``params`` are bound values in ClickHouse's text form."""
        started = time.monotonic()
        with self._lock:
            try:
                if database:
                    self._conn.query(f"USE `{database}`")
                result = self._conn.query(sql, fmt, params=dict(params) or None)
                body = result.bytes() or b""
                if not body and fmt == "Native":
                    body = self._empty_native_block(sql, params)
            except Exception as exc:  # chdb raises its own error types with the server message
                raise StoreError(str(exc).strip()) from exc
        return Answer(
            body=body,
            fmt=fmt,
            rows_read=int(result.rows_read()),
            bytes_read=int(result.bytes_read()),
            elapsed_s=time.monotonic() - started,
        )

    def _empty_native_block(self, sql: str, params: Mapping[str, str]) -> bytes:
        """A zero-row Native block with the result's names and types.

        chDB writes nothing for an empty Native result, where a server writes the header that
        clients (clickhouse-connect, Grafana's plugin) need to know the columns.
        """
        bare = _TRAILING_FORMAT.sub("", sql.rstrip().rstrip(";"))
        probe = self._conn.query(bare, "JSONCompact", params=dict(params) or None)
        meta = json.loads(probe.bytes())
        columns = meta.get("meta", [])
        block = bytearray(_varuint(len(columns)) + _varuint(0))
        for column in columns:
            for text in (column["name"], column["type"]):
                raw = text.encode("utf-8")
                block += _varuint(len(raw)) + raw
        return bytes(block)

    def close(self) -> None:
        """Close the session (the engine stays with the store's client)."""
        self._conn.close()


def _varuint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


async def _request_fields(request: web.Request) -> tuple[dict[str, str], str]:
    """URL parameters (and form fields) and the SQL text, put together as ClickHouse does."""
    fields = dict(request.query)
    body = ""
    if request.method == "POST":
        if request.content_type == "multipart/form-data":  # clickhouse-connect for long queries
            form = await request.post()
            fields.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            body = (await request.read()).decode("utf-8")
    sql = "\n".join(part for part in (fields.get("query", ""), body) if part)
    return fields, sql


def _error(exc: Exception) -> web.Response:
    message = str(exc)
    match = _ERROR_CODE.search(message)
    code = int(match.group(1)) if match else 1002
    return web.Response(
        status=_HTTP_STATUS.get(code, 500),
        text=message + "\n",
        headers={"X-ClickHouse-Exception-Code": str(code)},
    )


def worker_app(
    render_metrics: Callable[[], tuple[bytes, str]], engine: ReadOnlyEngine | None
) -> web.Application:
    """The worker's aiohttp app: ``/metrics``, and with ``engine`` the ClickHouse HTTP subset
    described above (``render_metrics`` returns the exposition body and its content type)."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="finsent-query")

    async def metrics(_: web.Request) -> web.Response:
        body, content_type = render_metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def query(request: web.Request) -> web.Response:
        assert engine is not None
        fields, sql = await _request_fields(request)
        if not sql.strip():
            return web.Response(status=200, text="Ok.\n")  # a bare GET / is ClickHouse's ping
        database = fields.get("database") or None
        if database and not _IDENTIFIER.match(database):
            return _error(StoreError(f"Code: 81. database must be an identifier, got {database!r}"))
        params = {k.removeprefix("param_"): v for k, v in fields.items() if k.startswith("param_")}
        ignored = sorted(k for k in fields if k not in _TRANSPORT and not k.startswith("param_"))
        if ignored:
            log.debug("ignoring client settings %s (the query session is read-only)", ignored)
        trailing = _TRAILING_FORMAT.search(sql)
        fmt = trailing.group(1) if trailing else fields.get("default_format") or DEFAULT_FORMAT
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(
                executor, engine.execute, sql, fmt, params, database
            )
        except StoreError as exc:
            log.info("query refused: %s", exc)
            return _error(exc)
        summary = {
            "read_rows": str(answer.rows_read),
            "read_bytes": str(answer.bytes_read),
            "elapsed_ns": str(int(answer.elapsed_s * 1e9)),
        }
        return web.Response(
            body=answer.body,
            content_type="application/json" if fmt.startswith("JSON") else "text/plain",
            headers={
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": engine.timezone,
                "X-ClickHouse-Query-Id": fields.get("query_id") or str(uuid.uuid4()),
                "X-ClickHouse-Summary": json.dumps(summary),
            },
        )

    async def close(_: web.Application) -> None:
        executor.shutdown()
        if engine is not None:
            engine.close()

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/ping", ping)
    if engine is not None:
        app.router.add_route("GET", "/", query)
        app.router.add_route("POST", "/", query)
    app.on_cleanup.append(close)
    return app


class HttpEndpoint:
    """Runs an aiohttp app on its own thread and event loop, apart from the Faust worker's.

    Queries then never stall the agent's loop, and the agent never delays a query.
    """

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="finsent-http", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` the endpoint listens on (after :meth:`start`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Listen; raise :class:`ConfigError` when the address cannot be bound."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port} (FINSENT_HTTP_HOST/FINSENT_HTTP_PORT): "
                f"{self._failure}"
            )
        log.warning("HTTP endpoint on %s (/metrics, read-only ClickHouse queries)", self.url)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except OSError as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def endpoint_file(var_dir: Path) -> Path:
    """Where a running worker writes its HTTP address."""
    return var_dir / ENDPOINT_FILE


def advertise(var_dir: Path, url: str, store_path: Path | None) -> Path:
    """Write the endpoint file for readers of ``store_path`` (None: metrics only)."""
    path = endpoint_file(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "pid": os.getpid(),
        "url": url,
        "clickhouse": os.path.realpath(store_path) if store_path else None,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)
    return path


def withdraw(var_dir: Path) -> None:
    """Remove the endpoint file if this process wrote it."""
    path = endpoint_file(var_dir)
    try:
        if json.loads(path.read_text("utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def discover(var_dir: Path, store_path: Path) -> str | None:
    """The URL of a running worker that serves queries on ``store_path``, else None."""
    try:
        payload: dict[str, Any] = json.loads(endpoint_file(var_dir).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if payload.get("clickhouse") != os.path.realpath(store_path):
        return None
    if not isinstance(payload.get("pid"), int) or not pid_alive(payload["pid"]):
        return None
    return payload.get("url")
