"""LocalStack: plans a distribution's processes, starts them in order, restarts crashed ones, stops them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal, Self, TextIO

import yaml

from stackmesh_common.config import ENV_PREFIX, ServiceConfig, StackConfig, load_config
from stackmesh_launcher import state
from stackmesh_launcher.components import Component, Gateway, GrpcService, Nats, Postgres, ServiceWorker, label
from stackmesh_launcher.errors import StackStartError
from stackmesh_launcher.ports import connect_host, find_conflicts, pick_free_port
from stackmesh_launcher.private import write_private
from stackmesh_launcher.supervisor import RestartPolicy, Supervisor

__all__ = ["LocalStack", "RestartPolicy", "StackStartError"]

CONFIG_FILE_NAME = "stack.yaml"


def _is_override(key: str) -> bool:
    # The same rule load_config uses to apply STACKMESH_* variables.
    if not key.startswith(ENV_PREFIX):
        return False
    return "__" in key or key[len(ENV_PREFIX) :].lower() in StackConfig.model_fields


def _child_env() -> dict[str, str]:
    # stack.yaml already carries every override and the ports the launcher chose; a child
    # re-applying STACKMESH_* from the environment would undo the latter.
    env = {key: value for key, value in os.environ.items() if not _is_override(key)}
    # Children log to files; unbuffered output makes a crash's last lines reach the log tail.
    env["PYTHONUNBUFFERED"] = "1"
    return env


class LocalStack:
    """A distribution run as child processes: Postgres and NATS (unless the config names external
    ones), every configured service each followed by its `workers` job-worker processes, then the gateway.

    `free_ports=True` gives every TCP port a free one (tests run side by side); otherwise the
    configured ports are used and a taken one fails `start()` before anything starts. Children
    get a signal when the thread that started them exits, so call `start()` from a thread that
    lives as long as the stack.

    Once started, the stack is supervised: a component whose process exits without being asked
    to (a crash, or `stop_component(name, signal.SIGKILL)`) is restarted in place, with the same
    ports, after a backoff, and counts as back once its readiness probe passes again;
    `restart_policy` sets the backoff and the crash-loop limit. When one component crash-loops
    the supervisor gives up and `watch()` returns; its caller stops the stack.
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        state_dir: str | os.PathLike[str] | None = None,
        free_ports: bool = True,
        *,
        gateway: bool = True,
        out: TextIO | None = None,
        restart_policy: RestartPolicy | None = None,
        replicas: dict[str, int] | None = None,
    ) -> None:
        config = load_config(config_path)
        for name, count in (replicas or {}).items():
            config.services[name] = config.service(name).model_copy(update={"replicas": count})
        self.state_dir = Path(state_dir if state_dir is not None else config.state_dir).resolve()
        self.config_path = self.state_dir / CONFIG_FILE_NAME
        self._out = out
        self._restart_policy = restart_policy or RestartPolicy()
        self._started: list[Component] = []
        self._supervisor: Supervisor | None = None
        self.config, self._components = self._plan(config, free_ports, gateway)

    def _plan(self, config: StackConfig, free_ports: bool, gateway: bool) -> tuple[StackConfig, list[Component]]:
        """Resolves ports and infrastructure URLs and credentials, and lists the components in start order."""
        handed_out: set[int] = set()

        def port(configured: int, host: str) -> int:
            chosen = pick_free_port(host, handed_out) if free_ports or configured == 0 else configured
            handed_out.add(chosen)
            return chosen

        data = config.model_dump(mode="json")
        data["state_dir"] = str(self.state_dir)
        infrastructure: list[Component] = []
        if not config.postgres.url:
            postgres = Postgres(self.state_dir, list(config.services))
            data["postgres"]["url"] = postgres.url
            for name in config.services:
                data["services"][name]["postgres_url"] = postgres.service_url(name)
            infrastructure.append(postgres)
        if not config.nats.url:
            nats = Nats(self.state_dir, port(config.nats.port, Nats.host), port(0, Nats.host))
            data["nats"].update(url=nats.url, port=nats.port, user=nats.user, password=nats.password)
            infrastructure.append(nats)
        for name, service in config.services.items():
            host = service.listen_host or service.host
            data["services"][name]["port"] = port(service.port, host)
            data["services"][name]["replica_ports"] = [port(0, host) for _ in range(service.replicas - 1)]
        if gateway:
            data["gateway"]["port"] = port(config.gateway.port, config.gateway.host)
            data["gateway"]["admin_port"] = port(config.gateway.admin_port, config.gateway.host)
            if config.telemetry.metrics.enabled:
                data["gateway"]["metrics_port"] = port(config.gateway.metrics_port, config.gateway.host)
        resolved = StackConfig.model_validate(data)

        def metrics_port(service: ServiceConfig) -> int | None:
            return port(0, service.listen_host or service.host) if resolved.telemetry.metrics.enabled else None

        components = [*infrastructure]
        for name, service in resolved.services.items():
            components += [
                GrpcService(name, service, self.state_dir, self.config_path, metrics_port(service), replica)
                for replica in range(1, service.replicas + 1)
            ]
            # After their service is ready (its migrations ran) and, stopping in reverse, stopped before it.
            components += [
                ServiceWorker(service, name, i, self.state_dir, self.config_path, metrics_port(service))
                for i in range(1, service.workers + 1)
            ]
        if gateway:
            components.append(Gateway(resolved.gateway, self.state_dir, self.config_path, metrics=resolved.telemetry.metrics.enabled))
        return resolved, components

    @property
    def components(self) -> list[str]:
        """Component names in start order."""
        return [component.name for component in self._components]

    @property
    def gateway_url(self) -> str:
        gateway = self._gateway()
        if gateway is None:
            raise LookupError("this stack runs without the gateway")
        return gateway.url

    def service_address(self, name: str) -> str:
        service = self.config.service(name)
        return f"{connect_host(service.host)}:{service.port}"

    def start(self) -> None:
        """Starts every component in order, returns when all are ready and supervises them from then on;
        on failure stops what started."""
        self._refuse_if_running()
        for component in self._components:
            component.preflight()
        problems = find_conflicts([claim for component in self._components for claim in component.port_claims()])
        if problems:
            raise StackStartError("ports are not available:\n  " + "\n  ".join(problems))
        self._write_config()
        env = _child_env()
        line_open = False
        try:
            for component in self._components:
                self._say(f"  {label(component.name)}{component.what:<24}{component.address:<34} ")
                line_open = True
                began = time.monotonic()
                self._started.append(component)
                component.start(env)
                self._write_state("starting")
                component.wait_ready()
                self._say(f"ready in {time.monotonic() - began:.1f} s\n")
                line_open = False
            self._write_state("ready")
            self._supervisor = Supervisor(
                list(self._started),
                env,
                self._restart_policy,
                on_restart=lambda: self._write_state("ready"),
                say=self._say,
            )
            self._supervisor.start()
        except BaseException:
            if line_open:
                self._say("failed\n")
            self.stop()
            raise

    def stop(self) -> None:
        """Ends supervision, then stops started components in reverse order (SIGTERM, then SIGKILL
        after 10 s); idempotent."""
        if self._supervisor is not None:
            self._supervisor.halt()
        while self._started:
            component = self._started.pop()
            if component.process is None:
                continue
            was_running = component.running
            began = time.monotonic()
            code = component.stop()
            if was_running:
                self._say(
                    f"  stopped {component.name} (pid {component.process.pid}, exit code {code}) "
                    f"in {time.monotonic() - began:.1f} s\n"
                )
            else:
                self._say(f"  {component.name} had already exited (code {code})\n")
        if self._supervisor is not None:
            # Only now: the processes it restarted get a signal when its thread exits.
            self._supervisor.close()
            self._supervisor = None
        record = state.read(self.state_dir)
        if record is not None and record.supervisor.pid == os.getpid():
            state.remove(self.state_dir)

    def stop_component(self, name: str, sig: int | None = None) -> None:
        """Stops one component and waits for its process to exit.

        With no `sig`, or the component's own stop signal (SIGTERM; SIGINT for Postgres), the stop
        is intentional and the component stays down. Any other signal, e.g. `signal.SIGKILL`,
        simulates a crash: the supervisor restarts it (see `wait_ready`), and the crash counts
        toward the crash-loop limit.
        """
        component = self._component(name)
        if (sig is None or sig == component.stop_signal) and self._supervisor is not None:
            self._supervisor.leave_down(name)
        component.stop(sig)

    def wait_ready(self, name: str, timeout_s: float = 120.0) -> None:
        """Blocks until `name` runs and has passed its readiness probe since its last (re)start.

        Raises StackStartError when the supervisor gives up on the stack, TimeoutError after `timeout_s`.
        """
        self._component(name)
        if self._supervisor is None:
            raise StackStartError("the stack is not running: start() first")
        deadline = time.monotonic() + timeout_s
        while not self._supervisor.is_up(name):
            failure = self._supervisor.failure(timeout_s=0.1)
            if failure is not None:
                raise StackStartError(failure)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not ready within {timeout_s:g} s")

    def watch(self) -> str:
        """Blocks until the supervisor gives up on a crash-looping component; returns why, with its log tail."""
        if self._supervisor is None:
            raise StackStartError("the stack is not running: start() first")
        while True:
            # Short waits: Ctrl-C (KeyboardInterrupt) is handled between them.
            failure = self._supervisor.failure(timeout_s=1.0)
            if failure is not None:
                return failure

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _refuse_if_running(self) -> None:
        record = state.read(self.state_dir)
        if record is not None and record.supervisor.alive():
            raise StackStartError(
                f"a stack is already running from {self.state_dir} (supervisor pid {record.supervisor.pid}); "
                f"stop it with: stackmesh down --state-dir {self.state_dir}"
            )

    def _write_config(self) -> None:
        text = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
        # It holds the NATS password, and values expanded from ${VARS} may be secrets too.
        write_private(self.config_path, text)

    def _component(self, name: str) -> Component:
        for component in self._started:
            if component.name == name:
                return component
        raise LookupError(f"no started component {name!r}; this stack has: {', '.join(self.components)}")

    def _gateway(self) -> Gateway | None:
        return next((c for c in self._components if isinstance(c, Gateway)), None)

    def _write_state(self, phase: Literal["starting", "ready"]) -> None:
        gateway = self._gateway()
        record = state.StackRecord(
            name=self.config.name,
            phase=phase,
            supervisor=state.ProcessRecord.of(os.getpid()),
            config=self.config_path,
            gateway_url=gateway.url if gateway else None,
            components=[
                state.ComponentRecord(
                    name=c.name,
                    what=c.what,
                    process=state.ProcessRecord.of(c.process.pid),
                    address=c.address,
                    log=c.log_path,
                    probe=c.probe,
                    restarts=c.restarts,
                    metrics=c.metrics_url,
                )
                for c in self._started
                if c.process is not None
            ],
        )
        state.write(self.state_dir, record)

    def _say(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text)
            self._out.flush()
