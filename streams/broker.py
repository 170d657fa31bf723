"""The local Kafka broker: fetch it from Maven Central, run it, check that it answers.

No Apache Kafka broker is packaged for PyPI or Debian, so :class:`LocalBroker` fetches the jars
with Maven (``deploy/kafka/pom.xml``; ``~/.m2`` caches the downloads) and runs one KRaft node
that is both broker and controller on 127.0.0.1, detached from the calling process, with its data,
logs and pid file under ``<var_dir>/kafka``.

:func:`ensure_broker` is what entry points call: it returns the bootstrap to use, starting a local
broker only when no external one is configured and nothing already answers on 127.0.0.1:9092.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from streams.errors import BrokerError
from streams.processes import pid_alive
from streams.settings import PROJECT_ROOT, KafkaSettings, Settings

log = logging.getLogger(__name__)

DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
PROPERTIES_TEMPLATE = DEPLOY_DIR / "server.properties.template"
LOG4J2_CONFIG = DEPLOY_DIR / "log4j2.properties"

NODE_ID = 1
MIN_JAVA = 17  # Kafka 4.x brokers need Java 17 or newer
INSTALL_HINT = (
    "install a JDK/JRE >= 17 and Maven, e.g. `apt-get install openjdk-17-jre-headless maven`"
)

_API_VERSIONS_KEY = 18
DEADLETTER_MAX_BYTES = 4 << 20  # see ensure_project_topics; the worker's producer sends as much
_STAMP = ".pom.sha256"
_START_MARK = "=== finsent: starting Kafka"


@dataclass(frozen=True)
class BrokerStatus:
    """What :meth:`LocalBroker.status` reports."""

    running: bool  # a broker process started from this var dir is alive
    pid: int | None
    bootstrap: str
    answering: bool  # the bootstrap answers a real ApiVersions request


def broker_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """Return True when some server in ``bootstrap`` answers a Kafka ApiVersions request.

    ``bootstrap`` is ``host:port`` or a comma-separated list of them. The check is one real
    ApiVersions (v0, which every broker version accepts) round trip on a fresh TCP connection:
    an open port that does not speak Kafka does not count. Never raises.
    """
    for server in (s.strip() for s in bootstrap.split(",")):
        if not server:
            continue
        host, _, port = server.rpartition(":")
        try:
            if _api_versions(host.strip("[]") or "localhost", int(port), timeout):
                return True
        except (OSError, ValueError, struct.error) as exc:
            log.debug("no ApiVersions answer from %s: %s", server, exc)
    return False


def _api_versions(host: str, port: int, timeout: float) -> bool:
    """One ApiVersions v0 request; True when the reply carries error 0 and a non-empty API list."""
    correlation_id = 0x66696E73  # "fins"
    client_id = b"finsent-probe"
    body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4, deadline))[0]
        if not 10 <= size <= 1_000_000:
            return False
        reply = _recv_exact(sock, size, deadline)
    got_id, error_code, n_apis = struct.unpack(">ihi", reply[:10])
    return got_id == correlation_id and error_code == 0 and n_apis > 0


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (for tests and throwaway brokers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """One local Kafka 4.x node (KRaft broker+controller) run from Maven-fetched jars.

    Layout under ``<var_dir>/kafka``: ``libs/`` (jars), ``data/`` (log dirs, formatted once),
    ``logs/server.log`` (log4j2), ``broker.log`` (stdout/stderr: warnings, JVM errors),
    ``server.properties`` (rendered on each start) and ``broker.pid``.

    ``libs_dir`` overrides where the jars live, so throwaway brokers (tests) can share one copy.
    """

    def __init__(
        self,
        var_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        heap: str = "512m",
        *,
        libs_dir: Path | None = None,
    ) -> None:
        self.var_dir = Path(var_dir)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.home = self.var_dir / "kafka"
        self.libs_dir = Path(libs_dir) if libs_dir else self.home / "libs"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.log_path = self.home / "broker.log"
        self.pid_path = self.home / "broker.pid"
        self.properties_path = self.home / "server.properties"
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalBroker(home={str(self.home)!r}, bootstrap={self.bootstrap!r})"

    @property
    def bootstrap(self) -> str:
        """The client bootstrap address, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    # -- jars --------------------------------------------------------------------------------

    def jars_present(self) -> bool:
        """True when ``libs_dir`` holds the jars the current ``deploy/kafka/pom.xml`` names."""
        stamp = self.libs_dir / _STAMP
        return (
            stamp.is_file()
            and stamp.read_text().strip() == _pom_digest()
            and any(self.libs_dir.glob("kafka_2.13-*.jar"))
            and any(self.libs_dir.glob("log4j-core-*.jar"))
        )

    def fetch_jars(self) -> Path:
        """Fetch the broker jars with Maven into ``libs_dir`` unless they are already there.

        Downloads land in ``~/.m2`` first, so a fresh checkout re-fetches in seconds. The copy is
        made in a temporary folder and renamed into place, so an interrupted fetch leaves nothing
        half-done. Returns ``libs_dir``.
        """
        if self.jars_present():
            return self.libs_dir
        _require_java()
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(f"`mvn` is not on PATH; it fetches the Kafka jars: {INSTALL_HINT}")
        self.libs_dir.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.libs_dir.parent / ".fetch.lock"):
            if self.jars_present():
                return self.libs_dir
            staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=self.libs_dir.parent))
            cmd = [
                mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
            ]  # fmt: skip
            log.info("fetching Kafka jars: %s", " ".join(cmd))
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                shutil.rmtree(staging, ignore_errors=True)
                raise BrokerError(
                    "mvn did not finish fetching the Kafka jars in 15 minutes"
                ) from None
            if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
                shutil.rmtree(staging, ignore_errors=True)
                tail = _tail_text((done.stdout + done.stderr).splitlines(), 25)
                raise BrokerError(
                    f"mvn could not fetch the Kafka jars (exit {done.returncode}; is Maven Central "
                    f"reachable?):\n{tail}"
                )
            (staging / _STAMP).write_text(_pom_digest() + "\n")
            if self.libs_dir.exists():
                shutil.rmtree(self.libs_dir)
            staging.rename(self.libs_dir)
        log.info("Kafka jars in %s", self.libs_dir)
        return self.libs_dir

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> BrokerStatus:
        """Start the broker and return once it answers ApiVersions and has registered.

        A no-op when this broker is already running and answering. Raises :class:`BrokerError`
        when java/mvn are missing, a port is taken, the process dies (with the log's last lines)
        or it does not answer within ``timeout`` seconds (the process is then stopped).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with _locked(self.home / ".start.lock"):
            pid = self._running_pid()
            if pid is not None:
                log.info("Kafka already running (pid %d), waiting for %s", pid, self.bootstrap)
                self._wait_ready(pid, timeout)
                return self.status()
            java = _require_java()
            self.fetch_jars()
            for port in (self.port, self.controller_port):
                if not _port_free(port):
                    what = "a Kafka broker" if broker_answers(f"127.0.0.1:{port}") else "something"
                    raise BrokerError(
                        f"port {port} on 127.0.0.1 is taken by {what} not started from "
                        f"{self.home}; stop it or choose other ports"
                    )
            self._render_properties()
            self._format_storage(java)
            pid = self._launch(java)
            try:
                self._wait_ready(pid, timeout)
            except BrokerError:
                if self._alive(pid):
                    self._terminate(pid, 10)
                self.pid_path.unlink(missing_ok=True)
                raise
            log.info("Kafka %s answering (pid %d)", self.bootstrap, pid)
            return self.status()

    def stop(self, timeout: float = 30) -> bool:
        """Stop the broker: SIGTERM, wait up to ``timeout`` s, then SIGKILL. Removes the pid file.

        Returns True when a running broker was stopped, False when none was running.
        """
        pid = self._running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        log.info("stopping Kafka (pid %d)", pid)
        self._terminate(pid, timeout)
        self.pid_path.unlink(missing_ok=True)
        self._proc = None
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker process is alive and whether its bootstrap answers."""
        pid = self._running_pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self.bootstrap,
            answering=broker_answers(self.bootstrap),
        )

    # -- internals ---------------------------------------------------------------------------

    def _render_properties(self) -> None:
        text = Template(PROPERTIES_TEMPLATE.read_text()).substitute(
            node_id=NODE_ID,
            port=self.port,
            controller_port=self.controller_port,
            data_dir=self.data_dir,
        )
        self.properties_path.write_text(text)

    def _classpath(self) -> str:
        return str(self.libs_dir / "*")

    def _format_storage(self, java: str) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = [
            java, f"-Xmx{self.heap}", *self._log_opts(), "-cp", self._classpath(),
            "kafka.tools.StorageTool", "format", "-t", cluster_id,
            "-c", str(self.properties_path), "--ignore-formatted",
        ]  # fmt: skip
        log.info("formatting Kafka storage in %s (cluster %s)", self.data_dir, cluster_id)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = _tail_text((done.stdout + done.stderr).splitlines(), 25)
            raise BrokerError(f"formatting Kafka storage in {self.data_dir} failed:\n{tail}")

    def _log_opts(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.logs_dir}",
        ]

    def _launch(self, java: str) -> int:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            java, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", *self._log_opts(),
            "-cp", self._classpath(), "kafka.Kafka", str(self.properties_path),
        ]  # fmt: skip
        log.info("launching Kafka: %s", " ".join(cmd))
        with open(self.log_path, "ab") as out:
            out.write(f"\n{_START_MARK} {time.strftime('%F %T')} ===\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        return self._proc.pid

    def _wait_ready(self, pid: int, timeout: float) -> None:
        """Wait for ApiVersions, then for this node to be registered and unfenced."""
        deadline = time.monotonic() + timeout
        while not broker_answers(self.bootstrap, timeout=1.0):
            self._check_alive(pid)
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"Kafka (pid {pid}) did not answer on {self.bootstrap} within {timeout:.0f} s; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.25)
        while not _has_unfenced_broker(self.bootstrap):
            self._check_alive(pid)
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"Kafka (pid {pid}) answers on {self.bootstrap} but did not register a "
                    f"usable broker within {timeout:.0f} s; see {self.logs_dir / 'server.log'}"
                )
            time.sleep(0.25)

    def _check_alive(self, pid: int) -> None:
        if not self._alive(pid):
            code = self._proc.returncode if self._proc is not None else None
            raise BrokerError(
                f"Kafka (pid {pid}) exited during start"
                + (f" with status {code}" if code is not None else "")
                + f"; last lines of {self.log_path}:\n{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines that the latest start wrote to ``broker.log``."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "  (no log)"
        marks = [i for i, line in enumerate(text) if line.startswith(_START_MARK)]
        return _tail_text(text[marks[-1] + 1 :] if marks else text, lines)

    def _running_pid(self) -> int | None:
        """The pid from the pid file when that process is alive and is a Kafka broker."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        if not pid_alive(pid):
            return False
        proc = Path(f"/proc/{pid}")
        if not proc.exists():
            return True  # no procfs: trust kill(0)
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            return False
        return state != "Z" and b"kafka.Kafka" in cmdline  # guards against pid reuse

    def _terminate(self, pid: int, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if self._alive(pid):
            log.warning("Kafka (pid %d) ignored SIGTERM for %.0f s, killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while self._alive(pid) and time.monotonic() < kill_deadline:
                time.sleep(0.1)
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)


def _has_unfenced_broker(bootstrap: str) -> bool:
    """True when the cluster metadata lists at least one unfenced broker (topics can be made)."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="finsent-probe",
            bootstrap_timeout_ms=5000,
            request_timeout_ms=5000,
        )
    except Exception as exc:  # kafka-python raises several unrelated types here
        log.debug("admin bootstrap to %s failed: %s", bootstrap, exc)
        return False
    try:
        brokers = admin.describe_cluster().get("brokers", [])
    except Exception as exc:
        log.debug("describe_cluster on %s failed: %s", bootstrap, exc)
        return False
    finally:
        admin.close()
    return any(not b.get("is_fenced", False) for b in brokers)


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError(f"`java` is not on PATH; the local Kafka broker needs it: {INSTALL_HINT}")
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"`{java} -version` failed: {exc}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0" style
            major = int(match.group(2))
        if major < MIN_JAVA:
            raise BrokerError(
                f"Kafka 4 needs Java >= {MIN_JAVA}, {java} is Java {major}: {INSTALL_HINT}"
            )
    return java


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _tail_text(lines: list[str], n: int) -> str:
    return "\n".join("  " + line for line in lines[-n:]) or "  (empty)"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory file lock (serializes concurrent starts and fetches)."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- entry-point helpers -----------------------------------------------------------------------


def ensure_broker(settings: Settings) -> str:
    """Return the bootstrap to use, starting a local broker only when needed.

    With ``FINSENT_KAFKA_BOOTSTRAP`` set (``settings.kafka.external``) that broker must answer,
    else :class:`BrokerError`. Otherwise a broker already answering on the default address is
    used, and failing that a :class:`LocalBroker` under ``settings.var_dir`` is started.
    """
    kafka = settings.kafka
    if kafka.external:
        if not broker_answers(kafka.bootstrap, timeout=5.0):
            raise BrokerError(
                f"Kafka at {kafka.bootstrap} (FINSENT_KAFKA_BOOTSTRAP) is not reachable: "
                "no ApiVersions answer"
            )
        return kafka.bootstrap
    if broker_answers(kafka.bootstrap):
        return kafka.bootstrap
    port = int(kafka.bootstrap.rpartition(":")[2])
    broker = LocalBroker(settings.var_dir, port=port)
    broker.start()
    return broker.bootstrap


def project_topics(kafka: KafkaSettings) -> dict[str, int]:
    """The topics finsent itself reads and writes, with their partition counts."""
    return {
        kafka.news_topic: kafka.partitions,
        kafka.filings_topic: kafka.partitions,
        kafka.scored_topic: kafka.partitions,
        kafka.deadletter_topic: kafka.partitions,
    }


def ensure_project_topics(bootstrap: str, kafka: KafkaSettings) -> dict[str, int]:
    """Create finsent's topics where missing (:func:`project_topics`); returns them.

    The dead-letter topic takes values up to :data:`DEADLETTER_MAX_BYTES`: a dead letter
    carries its input base64-encoded, a third larger than the input (at most the broker's 1 MiB).
    """
    topics = project_topics(kafka)
    configs = {kafka.deadletter_topic: {"max.message.bytes": str(DEADLETTER_MAX_BYTES)}}
    ensure_topics(bootstrap, topics, configs=configs)
    return topics


def ensure_topics(
    bootstrap: str,
    topics: dict[str, int],
    timeout: float = 30.0,
    *,
    configs: dict[str, dict[str, str]] | None = None,
) -> None:
    """Create the missing ``topics`` (name -> partitions, replication factor 1, topic
    ``configs`` by name); idempotent.

    Existing topics are left alone (a partition count that differs is logged, not changed).
    Returns once every topic has a leader for each partition. Raises :class:`BrokerError`.
    """
    if not topics:
        return
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="finsent-admin",
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {bootstrap} to create topics: {exc}") from exc
    try:
        existing = {t["name"]: len(t.get("partitions") or []) for t in admin.describe_topics()}
        for name, partitions in topics.items():
            if name in existing and existing[name] != partitions:
                log.warning(
                    "topic %s has %d partitions, not the %d asked for; left as it is",
                    name, existing[name], partitions,
                )  # fmt: skip
        missing = {
            name: {
                "num_partitions": partitions,
                "replication_factor": 1,
                "configs": (configs or {}).get(name, {}),
            }
            for name, partitions in topics.items()
            if name not in existing
        }
        if missing:
            log.info("creating topics %s", missing)
            result = admin.create_topics(
                missing, timeout_ms=int(timeout * 1000), raise_errors=False
            )
            failed = [
                f"{t['name']}: {t.get('error_message') or t['error_code']}"
                for t in result.get("topics", [])
                if t.get("error_code", 0) not in (0, TopicAlreadyExistsError.errno)
            ]
            if failed:
                raise BrokerError(f"Kafka at {bootstrap} refused to create topics: {failed}")
        admin.wait_for_topics(list(topics), timeout_ms=int(timeout * 1000))
    except KafkaError as exc:
        raise BrokerError(f"creating topics on Kafka at {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()
