"""The real servers the scale tests run against: a two-node Ray cluster and moto's S3 server.

Both are started as subprocesses bound to 127.0.0.1 and stopped by the tests that started them.
The Ray nodes run `ray start --block`: on SIGTERM that command stops the processes it started
(raylet, GCS, workers), which scopes the teardown to this cluster. `ray stop` would not do: it
matches Ray processes by name and would also stop any other cluster on the machine. Whatever
survives the SIGTERM (a worker mid-task) is found by its temporary directory, which every Ray
process of a node has on its command line, and killed by pid.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: object, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s\n{tail}")


class RayCluster:
    """A head node and a second node on this machine, each with one CPU and its own temp dir.

    `env` (given, plus a per-cluster auth token) is the environment of its processes, and so of
    the steps run on it, and what drivers need to reach it; `address` is the GCS address
    `127.0.0.1:<port>`, as `ray start --address` and `--ray-address` take it.
    """

    def __init__(self, cpus_per_node: int = 1, env: dict[str, str] | None = None) -> None:
        # Short: Ray's sockets live below it and Unix socket paths are limited to 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="cvray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client_port = free_port()  # Ray Client's server on the head: ray://127.0.0.1:PORT
        self.cpus = cpus_per_node
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),  # this cluster's; ~/.ray is not touched
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
            **(env or {}),
        }
        self.env.pop("RAY_AUTH_TOKEN_PATH", None)
        self.env.pop("RAY_ADDRESS", None)
        self._nodes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> RayCluster:
        try:
            self._start_node("head", ["--head", f"--port={self.port}"])
            self._wait_nodes(1)
            self._start_node("worker", [f"--address={self.address}"])
            self._wait_nodes(2)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, name: str, role: list[str]) -> None:
        temp = self.root / name
        temp.mkdir()
        ports = [
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
        ]
        if name == "head":
            ports += [
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--ray-client-server-port={self.client_port}",
            ]
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    str(BIN / "ray"),
                    "start",
                    *role,
                    "--block",
                    "--node-ip-address=127.0.0.1",
                    f"--temp-dir={temp}",
                    f"--num-cpus={self.cpus}",
                    "--num-gpus=0",
                    "--object-store-memory=100000000",
                    "--disable-usage-stats",
                    *ports,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of pytest reaches it through our teardown only
            )
        self._nodes.append((proc, log))

    def _wait_nodes(self, count: int) -> None:
        proc, log = self._nodes[-1]
        probe = (
            "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, "
            "configure_logging=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"ray start exited {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            done = subprocess.run(
                [sys.executable, "-c", probe, self.address],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            lines = done.stdout.strip().splitlines()
            return done.returncode == 0 and bool(lines) and int(lines[-1]) >= count

        _wait(ready, START_TIMEOUT_S, f"Ray cluster with {count} node(s)", log)

    def log_tails(self, pattern: str, chars: int = 3000) -> str:
        """The end of each of this cluster's Ray logs matching `pattern`, to explain a failure."""
        parts = []
        for path in sorted(self.root.glob(f"*/session_latest/logs/{pattern}")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts) or f"(no Ray log matches {pattern})"

    def pids(self) -> list[int]:
        """Live processes of this cluster: those with its temp dir on their command line."""
        found = []
        marker = str(self.root).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        return found

    def stop(self) -> None:
        for proc, _ in reversed(self._nodes):  # the second node first, then the head
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        for sig in (signal.SIGTERM, signal.SIGKILL):  # what the nodes left behind, if anything
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)


class MotoServer:
    """moto's S3 server (`moto_server -H 127.0.0.1 -p PORT`) in a subprocess."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
        self._proc: subprocess.Popen[bytes] | None = None

    def aws_env(self) -> dict[str, str]:
        """What boto needs to use this server (botocore reads AWS_ENDPOINT_URL itself)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self) -> MotoServer:
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.endpoint, timeout=2):
                    return True
            except OSError:
                return False

        try:
            _wait(ready, 60, "moto_server", self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=STOP_TIMEOUT_S)
        self.log.unlink(missing_ok=True)
