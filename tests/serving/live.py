"""Real servers on 127.0.0.1 for the tests: in a thread of the test process, or the command.

`LiveServer` runs the app of `conveyor serve` on uvicorn in a background thread, on a socket this
process bound (so no other process can take the port in between); stopping it runs the app's
shutdown, which writes the prediction log. `ServeProcess` runs `conveyor serve` itself.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from conveyor.serving.app import ServeConfig, create_app

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))

# -- servers -------------------------------------------------------------------------------------


class LiveServer:
    """The app of `conveyor serve` on a real uvicorn server, in a thread of this process."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        for _ in range(600):  # at most 30 s
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.05)
        assert self.server.started, "the server did not start"
        return self

    def stop(self) -> None:
        """Graceful shutdown: the app's lifespan ends, which writes the prediction log."""
        self.server.should_exit = True
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the server did not stop"
        self.sock.close()

    @property
    def inner(self) -> Any:
        """The FastAPI app behind the guard (its state holds the slot and the log)."""
        return self.app.app

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


# -- the `conveyor serve` command ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """`conveyor serve ARGS --port P` in `root`, its output collected line by line."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.args = args
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.env.update(env or {})
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServeProcess:
        for _ in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            self.proc = subprocess.Popen(
                [CONVEYOR, "serve", *self.args, "--port", str(self.port)],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: the workers are ended with it
            )
            threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
            if self._wait_ready():
                return self
            self.kill()
            if "address already in use" not in self.text().lower():
                break
        raise AssertionError(f"conveyor serve did not become ready:\n{self.text()}")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                self.lines.put(line)

    def _wait_ready(self) -> bool:
        """Wait for an answer from /health (open with an API key too): the app answers only once
        its model is loaded, as uvicorn listens after the app's startup."""
        with httpx.Client(base_url=self.url, timeout=5) as http:
            for _ in range(600):  # at most about 60 s
                assert self.proc is not None
                if self.proc.poll() is not None:
                    return False
                try:
                    if http.get("/health").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        return False

    def text(self) -> str:
        """Everything the server printed so far."""
        while True:
            try:
                self.output.append(self.lines.get_nowait())
            except queue.Empty:
                return "".join(self.output)

    def wait_for_output(self, needle: str, timeout: float = 60) -> None:
        """Block until the server prints a line containing `needle`."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            left = deadline - time.monotonic()
            assert left > 0, f"the server never printed {needle!r}:\n{self.text()}"
            with contextlib.suppress(queue.Empty):
                self.output.append(self.lines.get(timeout=min(left, 1.0)))

    def terminate(self) -> int:
        """SIGTERM, as a process manager stops it; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=90)

    def kill(self) -> None:
        """End the server and its workers if a test left them running (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):  # to its process group: workers included
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
                return


def serve_processes() -> Iterator[Callable[..., ServeProcess]]:
    """The body of a fixture that starts `conveyor serve` processes and ends them after the test."""
    started: list[ServeProcess] = []

    def start(root: Path, *args: str, env: dict[str, str] | None = None) -> ServeProcess:
        server = ServeProcess(root, *args, env=env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


#: the exit status of `conveyor serve` after SIGTERM: uvicorn re-raises the signal once it has
#: shut down gracefully (the single-process server), or returns (the supervisor of workers)
TERMINATED = (0, -signal.SIGTERM)


# -- load ---------------------------------------------------------------------------------------

THREADS = 4
MAX_PER_THREAD = 2500  # the load is bounded whatever happens


class Load:
    """`THREADS` clients asking for the same prediction (with probabilities) again and again,
    until the test is done or each has sent `MAX_PER_THREAD` requests."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        self.url = url
        self.body = body
        self.stop = threading.Event()
        self.results: list[list[Any]] = [[] for _ in range(THREADS)]
        self.threads = [
            threading.Thread(target=self._ask, args=(i,), daemon=True) for i in range(THREADS)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads)

    def _ask(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for _ in range(MAX_PER_THREAD):
                if self.stop.is_set():
                    return
                try:
                    response = http.post("/predict", params={"proba": "true"}, json=self.body)
                    json = response.headers.get("content-type") == "application/json"
                    body = response.json() if json else response.text
                    self.results[i].append((response.status_code, body))
                except Exception as err:  # a failed request is a finding, not a crash
                    self.results[i].append((None, repr(err)))

    def counts(self, version: int | None = None, since: list[int] | None = None) -> list[int]:
        """Per client: responses (by `version`) after its first `since[i]` responses."""
        counts = []
        for i, results in enumerate(self.results):
            counts.append(
                sum(
                    version is None or (status == 200 and body["model"]["version"] == version)
                    for status, body in results[since[i] if since else 0 :]
                )
            )
        return counts

    def each(self, version: int | None = None, since: list[int] | None = None) -> int:
        """The fewest such responses any client has had."""
        return min(self.counts(version, since))

    def marks(self) -> list[int]:
        return [len(results) for results in self.results]

    def wait(self, enough: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not enough():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            assert not self.stop.is_set()
            time.sleep(0.02)
