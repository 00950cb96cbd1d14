"""B6: `conveyor serve` under load, against MLflow, BentoML, a bare FastAPI app and `predict`.

    .venv/bin/python benchmarks/b6_serving.py                  # 5 s per measurement, ~3 minutes
    .venv/bin/python benchmarks/b6_serving.py --duration 10 --rounds 2
    .venv/bin/python benchmarks/b6_serving.py --only conveyor bare --profile

The model: scikit-learn's Pipeline(StandardScaler, LogisticRegression) on the breast-cancer data
(30 float columns, a DataFrame so feature names are kept), trained by a Conveyor pipeline
(infer_schema → split → train → evaluate → register) in a temporary project and promoted to
`bc@production`. Every server answers with that same fitted model, loaded from Conveyor's registry
(Conveyor is installed in every environment below), one server at a time on 127.0.0.1:

- Conveyor: `conveyor serve bc@production` (validation against the signature, prediction log,
  Prometheus metrics, host guard: all on, as shipped), 1 worker and `--workers 2`;
- bare FastAPI: one `async` route on the same FastAPI, uvicorn, uvloop and httptools as Conveyor,
  that parses the body with orjson (as Conveyor does), builds the frame and calls `predict`: no
  validation, no logging, no metrics; what Conveyor adds is the difference;
- BentoML (`benchmarks/.venv-peers`): a minimal `@bentoml.service` whose `async` API calls
  `predict` (a sync API, run in a thread pool, was slower), `bentoml serve`, 1 worker (its default);
- MLflow (`benchmarks/.venv-mlflow`): the model logged with `mlflow.sklearn.log_model` (with its
  signature) into a local store in a temporary folder (SQLite + files), served by
  `mlflow models serve --env-manager local` (1 worker, its default);
- the floor: `model.predict` on a one-row DataFrame in this process (and on 1000 rows).

Load, from `wrk` (a compiled load generator: `apt-get install wrk`; without it a Python client in
its own process, raw sockets with keep-alive, stands in and says so): single-row requests at
concurrency 1 (p50, p99, req/s) and 16 (req/s, p99), 1000-row batches at concurrency 4 (rows/s),
`--duration` seconds each after a 1 s warm-up. Every response must be a 2xx: any other status or a
socket error is counted, printed and fails the benchmark. Each server's answers are checked
against the in-process predictions first. The machine has 2 cores shared by client and server.
wrk corrects its percentiles for coordinated omission: one 150 ms pause of the server during a
c=1 run is counted as the ~75 requests a steady client would have sent meanwhile, so a few long
pauses (a full garbage collection) lift p99 far above what most requests see.

`--profile` adds, in-process (no HTTP): the Conveyor app and the bare app called through ASGI in
a loop, each stage of Conveyor's request path timed apart, and a cProfile of the Conveyor app in
`results/b6_profile.txt`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    RESULTS,
    describe_machine,
    emit,
    fmt_ms,
    fmt_ratio,
    load_note,
    run_worker,
    save_results,
    table,
)

NAME, ALIAS = "bc", "production"
REF = f"{NAME}@{ALIAS}"
TARGET = "target"
BATCH_ROWS = 1000
# (key, body, connections): what each server is measured with
SCENARIOS = (("c1", "single", 1), ("c16", "single", 16), ("batch", "batch", 4))
SERVERS = {
    "bare": "bare FastAPI (predict only)",
    "conveyor": "Conveyor, 1 worker",
    "conveyor2": "Conveyor, --workers 2",
    "bentoml": "BentoML",
    "mlflow": "MLflow",
}
FLOOR = "in-process predict (floor)"
PORT_PATHS = {"mlflow": "/invocations"}  # the others answer on /predict
SCRUBBED = ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE", "MLFLOW_TRACKING_URI")


# -- the model, in a Conveyor project --------------------------------------------------------------


def build_project(root: Path) -> dict[str, Any]:
    """Train and register `bc@production` in a new project at `root`; return the request rows."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import conveyor as cv
    from conveyor.components import evaluate, infer_schema, register, split, train
    from conveyor.workspace import close_workspaces

    @cv.step
    def load_data() -> pd.DataFrame:
        return load_breast_cancer(as_frame=True).frame

    @cv.pipeline
    def training() -> Any:
        data = load_data()
        schema = infer_schema(data)
        train_set, test_set = split(data, method="stratified", by=TARGET, test_size=0.25, seed=0)
        estimator = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
        model = train(train_set, target=TARGET, estimator=estimator, params={"clf__max_iter": 1000})
        evaluation = evaluate(model, test_set, target=TARGET)
        return register(model, evaluation, name=NAME, alias=ALIAS, schema=schema)

    settings = cv.Settings.load(root)
    run = training.run(settings=settings)
    outcome = run.output()
    if run.status != "succeeded" or not outcome.get("promoted"):
        raise SystemExit(f"B6: training did not register and promote {REF}: {outcome}")
    model = cv.load_model(REF, settings=settings)
    close_workspaces()
    features = [str(c) for c in model.feature_names_in_]
    frame = load_breast_cancer(as_frame=True).frame[features]
    batch = frame.iloc[[i % len(frame) for i in range(BATCH_ROWS)]].reset_index(drop=True)
    return {
        "model": model,
        "features": features,
        "single": frame.iloc[[0]].reset_index(drop=True),
        "batch": batch,
        "version": outcome["version"],
    }


def write_bodies(folder: Path, project: dict[str, Any]) -> dict[str, dict[str, Path]]:
    """Request bodies as files: Conveyor's format (also the bare app's and BentoML's), MLflow's."""
    import orjson

    single = project["single"].to_dict("records")
    columns = project["features"]
    data = project["batch"].to_numpy().tolist()
    bodies = {
        "conveyor": {
            "single": {"instances": single},
            "batch": {"columns": columns, "data": data},
        },
        "mlflow": {
            "single": {"dataframe_records": single},
            "batch": {"dataframe_split": {"columns": columns, "data": data}},
        },
    }
    paths: dict[str, dict[str, Path]] = {}
    for kind, pair in bodies.items():
        for size, body in pair.items():
            path = folder / f"{kind}-{size}.json"
            path.write_bytes(orjson.dumps(body))
            paths.setdefault(kind, {})[size] = path
    return paths


def load_model(project: Path) -> Any:
    """The registered model, as every server loads it (through Conveyor's registry)."""
    import conveyor as cv

    return cv.load_model(REF, settings=cv.Settings.load(project))


# -- the bare FastAPI app (also measured in-process with --profile) -------------------------------


def bare_app(model: Any, features: list[str]) -> Any:
    """FastAPI with one route: orjson in, a frame, `predict`, orjson out. Nothing else."""
    import orjson
    import pandas as pd
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    async def predict(request: Request) -> Response:
        body = orjson.loads(await request.body())
        if "instances" in body:
            frame = pd.DataFrame.from_records(body["instances"], columns=features)
        else:
            frame = pd.DataFrame(body["data"], columns=body["columns"])
        predictions = model.predict(frame).tolist()
        return Response(orjson.dumps({"predictions": predictions}), media_type="application/json")

    # FastAPI reads the parameter's type to inject the request; the names imported here are not
    # module globals, so the (postponed) annotations are given as the classes themselves.
    predict.__annotations__.update(request=Request, **{"return": Response})
    app = FastAPI()
    app.post("/predict")(predict)
    return app


def empty_app() -> Any:
    """The framework alone: Conveyor's route signature (the request and `proba`), answers {}."""
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    async def predict(request: Request, proba: bool = False) -> Response:
        await request.body()
        return Response(b"{}", media_type="application/json")

    predict.__annotations__.update(request=Request, proba=bool, **{"return": Response})
    app = FastAPI()
    app.post("/predict")(predict)
    return app


def work_bare(project: Path, port: int) -> None:
    import uvicorn

    model = load_model(project)
    app = bare_app(model, [str(c) for c in model.feature_names_in_])
    options = {"server_header": False, "access_log": False, "log_level": "warning"}
    uvicorn.run(app, host="127.0.0.1", port=port, **options)


# -- BentoML and MLflow ---------------------------------------------------------------------------

BENTO_SERVICE = '''
"""B6's BentoML service: the registered model's predict, nothing else.

`async def`, as the bare app's and Conveyor's routes: predict runs on the event loop. A plain
`def` (run in a thread pool) measured 15-55% slower here.
"""

import os
from pathlib import Path

import bentoml
import pandas as pd

import conveyor as cv


@bentoml.service
class BreastCancer:
    def __init__(self) -> None:
        settings = cv.Settings.load(Path(os.environ["B6_PROJECT"]))
        self.model = cv.load_model(os.environ["B6_REF"], settings=settings)
        self.features = [str(c) for c in self.model.feature_names_in_]

    @bentoml.api
    async def predict(
        self,
        instances: list[dict[str, float]] | None = None,
        columns: list[str] | None = None,
        data: list[list[float]] | None = None,
    ) -> dict:
        if instances is not None:
            frame = pd.DataFrame.from_records(instances, columns=self.features)
        else:
            frame = pd.DataFrame(data, columns=columns)
        return {"predictions": self.model.predict(frame).tolist()}
'''


def work_mlflow_log(project: Path, store: str) -> dict[str, Any]:
    """In the MLflow environment: log the registered model with its signature; return its URI.

    The tracking store is SQLite in the temporary folder (MLflow 3 refuses its file store by
    default now); the model's files go to `mlruns/` beside it, on the local disk.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer

    model = load_model(project)
    frame = load_breast_cancer(as_frame=True).frame[[str(c) for c in model.feature_names_in_]]
    mlflow.set_tracking_uri(store)
    signature = infer_signature(frame, model.predict(frame))
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", signature=signature)
    return {"uri": info.model_uri, "mlflow": mlflow.__version__}


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    import peers

    env = peers.quiet_env()
    for name in SCRUBBED:
        env.pop(name, None)
    return env


class Server:
    """One server process (and its children, in their own process group), on a free port."""

    def __init__(self, key: str, cmd: list[Any], cwd: Path, env: dict[str, str]) -> None:
        self.key = key
        self.port = free_port()
        self.path = PORT_PATHS.get(key, "/predict")
        self.cmd = [str(c).replace("{port}", str(self.port)) for c in cmd]
        self.cwd, self.env = cwd, env
        self.log = RESULTS / f"b6_{key}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        RESULTS.mkdir(exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def post(self, body: bytes, timeout: float = 30) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_ready(self, body: bytes, timeout: float = 240) -> float:
        """Seconds until the server answered a prediction with 200."""
        assert self.proc is not None
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"B6: {self.key} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                status, answer = self.post(body, timeout=10)
            except OSError:
                status, answer = 0, b""
            if status == 200:
                return time.perf_counter() - started
            if 400 <= status < 500:  # refused, not starting: waiting would not help
                raise SystemExit(f"B6: {self.key} answered {status}: {answer[:500]!r}")
            time.sleep(0.25)
        raise SystemExit(f"B6: {self.key} did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server's process group (a graceful shutdown), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # workers left by a parent that exited
            os.killpg(pgid, signal.SIGKILL)


def make_server(key: str, ctx: dict[str, Any]) -> Server:
    import peers

    project: Path = ctx["project"]
    env = base_env()
    if key in ("conveyor", "conveyor2"):
        cmd = [Path(sys.executable).with_name("conveyor"), "serve", REF, "--port", "{port}"]
        return Server(key, cmd + (["--workers", "2"] if key == "conveyor2" else []), project, env)
    if key == "bare":
        cmd = [sys.executable, Path(__file__).resolve(), "--worker", "bare"]
        return Server(key, [*cmd, "--project", project, "--port", "{port}"], REPO, env)
    if key == "bentoml":
        folder: Path = ctx["tmp"] / "bentoml"
        folder.mkdir(exist_ok=True)
        (folder / "service.py").write_text(BENTO_SERVICE.lstrip())
        env.update(
            {"B6_PROJECT": str(project), "B6_REF": REF, "BENTOML_HOME": str(folder / "home")}
        )
        bentoml = peers.python(peers.PEERS).with_name("bentoml")
        cmd = [bentoml, "serve", "service:BreastCancer", "--host", "127.0.0.1", "--port", "{port}"]
        return Server(key, cmd, folder, env)
    if key == "mlflow":
        env["MLFLOW_TRACKING_URI"] = ctx["mlflow_store"]
        mlflow = peers.python(peers.MLFLOW).with_name("mlflow")
        env["PATH"] = f"{mlflow.parent}{os.pathsep}{env.get('PATH', '')}"  # it runs `uvicorn`
        cmd = [mlflow, "models", "serve", "-m", ctx["mlflow_uri"], "--env-manager", "local"]
        cmd += ["-h", "127.0.0.1", "-p", "{port}", "-w", "1"]
        return Server(key, cmd, ctx["tmp"], env)
    raise ValueError(key)


def prepare_peers(keys: list[str], ctx: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Build the environments the chosen peers need; log the model for MLflow. Their versions."""
    import peers

    versions: dict[str, dict[str, str]] = {}
    if "bentoml" in keys:
        peers.ensure(env=peers.PEERS)
        versions["peers"] = peers.versions(peers.PEERS)
    if "mlflow" in keys:
        py = peers.ensure(env=peers.MLFLOW)
        versions["mlflow"] = peers.versions(peers.MLFLOW)
        store = f"sqlite:///{ctx['tmp'] / 'mlflow.db'}"
        cmd = [py, Path(__file__).resolve(), "--worker", "mlflow-log"]
        cmd += ["--project", ctx["project"], "--store", store]
        logged = run_worker(cmd, env=base_env(), timeout=600, cwd=ctx["tmp"])
        ctx["mlflow_store"], ctx["mlflow_uri"] = store, logged["uri"]
    return versions


# -- load generation ------------------------------------------------------------------------------

WRK_SCRIPT = """
local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRK {{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}}\\n',
    summary.requests, summary.duration, non2xx, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
"""


def measure(
    server: Server, body: Path, connections: int, duration: float, client: str
) -> dict[str, Any]:
    """One bounded load run: requests, req/s, latency percentiles, non-2xx and socket errors."""
    url = f"http://127.0.0.1:{server.port}{server.path}"
    if client == "wrk":
        script = body.with_suffix(".lua")
        script.write_text(WRK_SCRIPT.format(body=body))
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s"]
        proc = subprocess.run(
            [*cmd, "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("WRK ")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"B6: wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        raw = json.loads(lines[-1][4:])
        seconds = raw["duration_us"] / 1e6
        result = {
            "requests": raw["requests"],
            "seconds": seconds,
            "p50_ms": raw["p50_us"] / 1e3,
            "p99_ms": raw["p99_us"] / 1e3,
            "max_ms": raw["max_us"] / 1e3,
            "non2xx": raw["non2xx"],
            "socket_errors": raw["socket_errors"],
        }
    else:
        cmd = [sys.executable, Path(__file__).resolve(), "--worker", "client", "--url", url]
        cmd += ["--body", body, "--connections", str(connections), "--duration", str(duration)]
        result = run_worker(cmd, timeout=duration + 60)
    result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    return result


def work_client(url: str, body_path: Path, connections: int, duration: float) -> dict[str, Any]:
    """The stand-in for wrk: keep-alive connections on raw sockets, one thread, select()."""
    import selectors
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    body = body_path.read_bytes()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    request = head.encode() + body
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    counts = {"non2xx": 0, "socket_errors": 0}

    def send(sock: socket.socket) -> None:
        sock.setblocking(True)
        sock.sendall(request)
        sock.setblocking(False)
        selector.modify(sock, selectors.EVENT_READ, (time.perf_counter(), bytearray()))

    def connect() -> None:
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        selector.register(sock, selectors.EVENT_READ, (0.0, bytearray()))
        send(sock)

    def complete(buffer: bytearray) -> int | None:
        """The status of a complete response in `buffer`, or None while it is partial."""
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        headers = bytes(buffer[:end]).lower()
        status = int(headers.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in headers:
            return status if buffer.endswith(b"0\r\n\r\n") else None
        length = 0
        for line in headers.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status if len(buffer) >= end + 4 + length else None

    for _ in range(connections):
        connect()
    started = time.perf_counter()
    deadline = started + duration
    while selector.get_map():
        now = time.perf_counter()
        if now > deadline + 10:
            counts["socket_errors"] += len(selector.get_map())
            break
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            sent_at, buffer = key.data
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:  # closed by the server
                counts["socket_errors"] += 1
                selector.unregister(sock)
                sock.close()
                if time.perf_counter() < deadline:
                    connect()
                continue
            buffer += chunk
            status = complete(buffer)
            if status is None:
                continue
            finished = time.perf_counter()
            if finished <= deadline:
                latencies.append(finished - sent_at)
                counts["non2xx"] += not 200 <= status < 300
            if finished < deadline:
                send(sock)
            else:
                selector.unregister(sock)
                sock.close()
    latencies.sort()
    n = len(latencies)

    def pct(q: float) -> float:
        return latencies[min(n - 1, int(q * n))] * 1e3 if n else 0.0

    return {
        "requests": n,
        "seconds": duration,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1e3 if n else 0.0,
        **counts,
    }


# -- the floor: predict in this process ------------------------------------------------------------


def timed_loop(fn: Callable[[], Any], seconds: float) -> list[float]:
    """Seconds of each call of `fn`, repeated for about `seconds` (after 20 untimed calls)."""
    for _ in range(20):
        fn()
    times: list[float] = []
    clock = time.perf_counter
    end = clock() + seconds
    while clock() < end:
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor(project: dict[str, Any], seconds: float) -> dict[str, Any]:
    model, single, batch = project["model"], project["single"], project["batch"]
    one = timed_loop(lambda: model.predict(single), seconds)
    many = timed_loop(lambda: model.predict(batch), seconds)
    return {
        "c1": {
            "rps": len(one) / sum(one),
            "p50_ms": percentile(one, 0.5) * 1e3,
            "p99_ms": percentile(one, 0.99) * 1e3,
        },
        "batch": {
            "rps": len(many) / sum(many),
            "rows_s": BATCH_ROWS * len(many) / sum(many),
            "p50_ms": percentile(many, 0.5) * 1e3,
        },
    }


# -- --profile: the apps in-process through ASGI, and Conveyor's request path stage by stage -------


def asgi_scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def asgi_loop(app: Any, body: bytes, seconds: float) -> list[float]:
    """Seconds per request of `app` called directly (no server, no sockets)."""
    scope = asgi_scope("/predict", body)
    statuses: list[int] = []

    async def call() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(scope), receive, send)

    for _ in range(20):
        await call()
    times: list[float] = []
    clock = time.perf_counter
    end = clock() + seconds
    while clock() < end:
        start = clock()
        await call()
        times.append(clock() - start)
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"B6: in-process app answered {sorted(set(bad))}")
    return times


def profile_apps(
    project: dict[str, Any], root: Path, bodies: dict[str, Path], seconds: float
) -> dict:
    """Conveyor's app and the bare app in-process, and Conveyor's stages timed one by one."""
    import cProfile
    import pstats

    from conveyor.serving.app import ServeConfig, create_app
    from conveyor.workspace import close_workspaces

    guard = create_app(ServeConfig(ref=REF, root=str(root)))
    app = guard.app
    bare, empty = bare_app(project["model"], project["features"]), empty_app()
    result: dict[str, Any] = {}

    async def measure_apps(apps: dict[str, Any]) -> None:
        for size in ("single", "batch"):
            body = bodies[size].read_bytes()
            part = result.setdefault(size, {})
            for key, fn in apps.items():
                times = await asgi_loop(fn, body, seconds)
                part[f"asgi_{key}_us"] = statistics.median(times) * 1e6
                part[f"asgi_{key}_p99_us"] = percentile(times, 0.99) * 1e6

    async def run() -> None:
        # Without the background threads first: the log flushed only at the end, no alias polling.
        calm = create_app(ServeConfig(ref=REF, root=str(root), flush_s=3600, poll_s=3600))
        async with calm.app.router.lifespan_context(calm.app):
            await measure_apps({"calm": calm})
        async with app.router.lifespan_context(app):
            await measure_apps({"conveyor": guard, "no_guard": app, "bare": bare, "empty": empty})
            for size in ("single", "batch"):
                body = bodies[size].read_bytes()
                result[size].update(stages(app, body, project["features"], seconds / 4))
            profiler = cProfile.Profile()
            profiler.enable()
            await asgi_loop(guard, bodies["single"].read_bytes(), seconds)
            profiler.disable()
            RESULTS.mkdir(exist_ok=True)
            with (RESULTS / "b6_profile.txt").open("w") as out:
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("cumulative").print_stats(60)
                stats.sort_stats("tottime").print_stats(40)

    asyncio.run(run())
    close_workspaces()
    return result


def stages(app: Any, body: bytes, features: list[str], seconds: float) -> dict[str, Any]:
    """Each step of Conveyor's /predict alone (median µs), and the bare app's own two steps."""
    import uuid

    import orjson
    import pandas as pd

    from conveyor.serving.app import _json
    from conveyor.serving.predlog import PredictionLog

    def per_call(fn: Callable[[], Any]) -> float:
        return statistics.median(timed_loop(fn, seconds)) * 1e6

    loaded, metrics = app.state.slot.current, app.state.metrics
    scratch = PredictionLog(app.state.log.ws, NAME)  # not started: written only by flush below
    buffer = PredictionLog(app.state.log.ws, NAME)  # for log.record alone: never written
    parsed = orjson.loads(body)
    columns, rows = loaded.schema.columns_from_body(parsed)
    frame = loaded.schema.frame(columns)
    predictions = loaded.model.predict(frame).tolist()
    rid = uuid.uuid4().hex
    content = {"predictions": predictions, "model": {"name": NAME, "version": 1}}

    def observe() -> None:
        metrics.latency.observe(0.001)
        metrics.requests.labels("predict", "200").inc()
        metrics.observe_predictions(predictions, True)

    def flush() -> None:
        for _ in range(count):
            scratch.record(rid, 1, 1.0, columns, rows, predictions)
        scratch.flush()

    path = {
        "orjson.loads(body)": lambda: orjson.loads(body),
        "schema.columns_from_body (validation)": lambda: loaded.schema.columns_from_body(parsed),
        "schema.frame (one array per column -> DataFrame)": lambda: loaded.schema.frame(columns),
        "model.predict(frame)": lambda: loaded.model.predict(frame),
        "uuid4().hex": lambda: uuid.uuid4().hex,
        "log.record (append to the buffer)": lambda: buffer.record(
            rid, 1, 1.0, columns, rows, predictions
        ),
        "metrics (latency, requests, predictions)": observe,
        "_json(response)": lambda: _json(content, headers={"x-request-id": rid}),
    }
    out = {"stages_us": {label: per_call(fn) for label, fn in path.items()}}
    # The background flush (frame + Parquet + index row) holds the GIL too: its cost per request,
    # from one flush of about a second of traffic (500 single rows, or 20 batches).
    count = 500 if rows == 1 else 20
    scratch.flush()
    out["flush_us_per_request"] = statistics.median(timed_loop(flush, seconds)) * 1e6 / count
    if "instances" in parsed:
        build = lambda: pd.DataFrame.from_records(parsed["instances"], columns=features)  # noqa: E731
    else:
        build = lambda: pd.DataFrame(parsed["data"], columns=parsed["columns"])  # noqa: E731
    bare_frame = build()
    out["bare_stages_us"] = {
        "orjson.loads(body)": per_call(lambda: orjson.loads(body)),
        "DataFrame from the body": per_call(build),
        "model.predict(frame)": per_call(lambda: loaded.model.predict(bare_frame)),
    }
    return out


def print_profile(result: dict[str, Any]) -> None:
    sizes = [("single", "1 row"), ("batch", f"{BATCH_ROWS} rows")]
    print("\nIn-process, no HTTP: requests through the ASGI app, one at a time (µs)")
    rows = []
    for key, label in (
        ("empty", "FastAPI route answering {} (the framework alone)"),
        ("bare", "bare FastAPI app"),
        ("no_guard", "Conveyor app without its Guard"),
        ("conveyor", "Conveyor app (Guard + FastAPI), as served"),
        ("calm", "Conveyor app, log flushed only at exit, no alias polling"),
    ):
        row = [label]
        for size, _ in sizes:
            us = result[size][f"asgi_{key}_us"]
            p99 = result[size][f"asgi_{key}_p99_us"]
            row += [f"{us:,.0f}", f"{p99:,.0f}", fmt_ratio(us / result[size]["asgi_bare_us"])]
        rows.append(row)
    headers = ["app", "1 row p50", "p99", "p50 x bare"]
    headers += [f"{BATCH_ROWS} rows p50", "p99", "p50 x bare"]
    print(table(headers, rows))

    print("\nConveyor's /predict, stage by stage (median µs, each stage called alone)")
    rows = []
    for label in result["single"]["stages_us"]:
        row = [label]
        for size, _ in sizes:
            us = result[size]["stages_us"][label]
            row += [f"{us:,.1f}", f"{us / result[size]['asgi_conveyor_us']:.0%}"]
        rows.append(row)
    sums = {size: sum(result[size]["stages_us"].values()) for size, _ in sizes}
    row = ["sum of the stages"]
    rest = ["rest: the framework, Guard, and the stages slower in sequence than alone"]
    flush = ["background log flush, per request (frame + Parquet + index row)"]
    for size, _ in sizes:
        total = result[size]["asgi_conveyor_us"]
        row += [f"{sums[size]:,.0f}", f"{sums[size] / total:.0%}"]
        rest += [f"{total - sums[size]:,.0f}", f"{(total - sums[size]) / total:.0%}"]
        flush_us = result[size]["flush_us_per_request"]
        flush += [f"{flush_us:,.0f}", f"{flush_us / total:.0%}"]
    rows += [row, rest, flush]
    headers = ["stage", "1 row µs", "share", f"{BATCH_ROWS} rows µs", "share"]
    print(table(headers, rows))
    for size, label in sizes:
        print(
            f"bare app's stages, {label}: "
            + ", ".join(f"{k} {v:,.0f} µs" for k, v in result[size]["bare_stages_us"].items())
        )
    print(f"cProfile of the Conveyor app (1 row): {RESULTS / 'b6_profile.txt'}")


# -- the benchmark ---------------------------------------------------------------------------------


def logged_rows(root: Path) -> int:
    """Rows in the prediction log of `bc` (metadata only: the segments' row counts)."""
    import conveyor as cv
    from conveyor.metadata.log_store import LogStore
    from conveyor.workspace import close_workspaces, open_workspace

    ws = open_workspace(cv.Settings.load(root))
    try:
        return sum(s.rows for s in LogStore(ws.metadata).segments(NAME))
    finally:
        close_workspaces()


def check_answer(server: Server, body: Path, expected: list[Any]) -> None:
    status, raw = server.post(body.read_bytes())
    got = json.loads(raw).get("predictions") if status == 200 else None
    if got != expected:
        shown = raw[:300].decode(errors="replace")
        raise SystemExit(f"B6: {server.key} answered {status} {shown} for {body.name}")


def run_server(key: str, ctx: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    server = make_server(key, ctx)
    kind = "mlflow" if key == "mlflow" else "conveyor"
    bodies = ctx["bodies"][kind]
    before = logged_rows(ctx["project"]) if key.startswith("conveyor") else 0
    sent = 0
    server.start()
    try:
        ready_s = server.wait_ready(bodies["single"].read_bytes())
        check_answer(server, bodies["single"], ctx["expected"]["single"])
        check_answer(server, bodies["batch"], ctx["expected"]["batch"])
        warm = measure(server, bodies["single"], 4, 1, args.client)
        result: dict[str, Any] = {"ready_s": ready_s, "warmup": warm}
        sent = warm["requests"] + BATCH_ROWS + 1
        for name, size, connections in SCENARIOS:
            result[name] = measure(server, bodies[size], connections, args.duration, args.client)
            sent += result[name]["requests"] * (BATCH_ROWS if size == "batch" else 1)
    finally:
        server.stop()
    if key.startswith("conveyor"):  # the log is flushed at shutdown: every answered row is in it
        result["logged_rows"] = logged_rows(ctx["project"]) - before
        result["answered_rows"] = sent
    return result


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the rounds; errors are summed."""
    if len(rounds) == 1:
        return rounds[0]
    out: dict[str, Any] = {"rounds": rounds}
    for name, _, _ in SCENARIOS:
        keys = rounds[0][name].keys()
        out[name] = {
            k: (
                sum(r[name][k] for r in rounds)
                if k in ("non2xx", "socket_errors", "requests")
                else statistics.median(r[name][k] for r in rounds)
            )
            for k in keys
        }
    for k in ("logged_rows", "answered_rows"):
        if k in rounds[0]:
            out[k] = sum(r[k] for r in rounds)
    return out


def report(results: dict[str, Any], floor_result: dict[str, Any] | None) -> list[str]:
    """Print the tables and the targets; return the problems (non-2xx, socket errors)."""
    rows = []
    problems = []
    for key, res in results.items():
        errors = sum(res[s][k] for s, _, _ in SCENARIOS for k in ("non2xx", "socket_errors"))
        if errors:
            problems.append(f"{SERVERS[key]}: {errors} non-2xx responses or socket errors")
        c1, c16, batch = res["c1"], res["c16"], res["batch"]
        rows.append(
            [
                SERVERS[key],
                f"{c1['rps']:,.0f}",
                fmt_ms(c1["p50_ms"]),
                fmt_ms(c1["p99_ms"]),
                f"{c16['rps']:,.0f}",
                fmt_ms(c16["p50_ms"]),
                fmt_ms(c16["p99_ms"]),
                f"{batch['rps'] * BATCH_ROWS:,.0f}",
                fmt_ms(batch["p50_ms"]),
                str(errors),
            ]
        )
    if floor_result is not None:
        c1, batch = floor_result["c1"], floor_result["batch"]
        c1_cells = [f"{c1['rps']:,.0f}", fmt_ms(c1["p50_ms"]), fmt_ms(c1["p99_ms"])]
        batch_cells = [f"{batch['rows_s']:,.0f}", fmt_ms(batch["p50_ms"])]
        rows.append([FLOOR, *c1_cells, "—", "—", "—", *batch_cells, "—"])
    headers = ["server", "c=1 req/s", "c=1 p50 ms", "c=1 p99 ms", "c=16 req/s"]
    headers += ["c=16 p50 ms", "c=16 p99 ms", "batch rows/s", "batch p50 ms", "non-2xx + errors"]
    print(table(headers, rows))

    refs = [(k, SERVERS[k]) for k in ("mlflow", "bentoml", "bare") if k in results]
    if refs:
        print("\nRatios (throughput of the row's server / the reference's, same run)")
        headers = ["server"]
        for _, label in refs:
            short = label.split(" ")[0]
            headers += [f"c=1 vs {short}", f"c=16 vs {short}", f"rows/s vs {short}"]
        rows = []
        for key, res in results.items():
            row = [SERVERS[key]]
            for ref, _ in refs:
                for scenario in ("c1", "c16", "batch"):
                    row.append(fmt_ratio(res[scenario]["rps"] / results[ref][scenario]["rps"]))
            rows.append(row)
        print(table(headers, rows))
    for key, res in results.items():
        if "logged_rows" in res:
            ok = res["logged_rows"] >= res["answered_rows"]
            if not ok:
                problems.append(f"{SERVERS[key]}: the prediction log lost rows")
            print(
                f"{SERVERS[key]}: prediction log holds {res['logged_rows']:,} rows for "
                f"{res['answered_rows']:,} rows answered (incl. checks and warm-up) — "
                + ("none lost" if ok else "ROWS LOST")
            )
    return problems


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, met, figures) for each of the issue's targets that this run can judge."""
    out: list[tuple[str, bool | None, str]] = []
    conv = results.get("conveyor")
    if conv is None:
        return out

    def ratio(ref: str, scenario: str) -> float:
        return conv[scenario]["rps"] / results[ref][scenario]["rps"]

    for ref, label, need in (("mlflow", "MLflow", 10.0), ("bentoml", "BentoML", 2.0)):
        if ref in results:
            c1, c16 = ratio(ref, "c1"), ratio(ref, "c16")
            out.append(
                (
                    f">= {need:g}x {label}'s single-row throughput",
                    c1 >= need and c16 >= need,
                    f"c=1 {fmt_ratio(c1)}, c=16 {fmt_ratio(c16)}",
                )
            )
    if "bare" in results:
        shares = {s: ratio("bare", s) for s in ("c1", "c16", "batch")}
        out.append(
            (
                ">= 75% of the bare FastAPI app's throughput (validation and logging on)",
                all(v >= 0.75 for v in shares.values()),
                f"c=1 {shares['c1']:.0%}, c=16 {shares['c16']:.0%}, "
                f"1000-row batches {shares['batch']:.0%}",
            )
        )
    p50 = conv["c1"]["p50_ms"]
    out.append(("p50 at concurrency 1 < 2 ms", p50 < 2.0, f"{fmt_ms(p50)} ms"))
    if "conveyor2" in results:
        two = results["conveyor2"]
        c16 = two["c16"]["rps"] / conv["c16"]["rps"]
        rows = two["batch"]["rps"] / conv["batch"]["rps"]
        out.append(
            (
                "--workers 2 scales on 2 cores (taken as >= 1.3x of 1 worker, client included)",
                c16 >= 1.3 and rows >= 1.3,
                f"c=16 req/s {fmt_ratio(c16)}, batch rows/s {fmt_ratio(rows)}",
            )
        )
    return out


def versions_line(versions: dict[str, dict[str, str]]) -> str:
    from importlib import metadata

    own = {n: metadata.version(n) for n in ("fastapi", "starlette", "uvicorn", "scikit-learn")}
    parts = [", ".join(f"{k} {v}" for k, v in own.items()) + " (Conveyor and bare)"]
    if "peers" in versions:
        v = versions["peers"]
        parts.append(f"bentoml {v['bentoml']} (starlette {v['starlette']}, uvicorn {v['uvicorn']})")
    if "mlflow" in versions:
        v = versions["mlflow"]
        parts.append(f"mlflow {v['mlflow']} (uvicorn {v['uvicorn']})")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description="B6: model serving under load")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--body", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every server; medians")
    parser.add_argument("--only", nargs="+", choices=list(SERVERS), help="a subset of servers")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    parser.add_argument("--profile", action="store_true", help="the in-process breakdown too")
    args = parser.parse_args()
    if args.worker == "bare":
        work_bare(args.project, args.port)
        return
    if args.worker == "mlflow-log":
        emit(work_mlflow_log(args.project, args.store))
        return
    if args.worker == "client":
        emit(work_client(args.url, args.body, args.connections, args.duration))
        return

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    started = time.perf_counter()
    keys = args.only or list(SERVERS)
    print(
        f"B6 serving: {len(keys)} servers x {len(SCENARIOS)} loads of {args.duration:g} s, "
        f"{args.rounds} round(s); machine: {describe_machine()}{load_note()}"
    )
    if args.client == "python":
        print(
            "note: the load comes from a Python client in its own process, not wrk (install it: "
            "apt-get install wrk); it takes more CPU from the servers, compare with care"
        )
    with tempfile.TemporaryDirectory(prefix="conveyor-b6-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "project"
        root.mkdir()
        project = build_project(root)
        bodies = write_bodies(tmp, project)
        model = project["model"]
        ctx: dict[str, Any] = {
            "tmp": tmp,
            "project": root,
            "bodies": bodies,
            "expected": {
                "single": model.predict(project["single"]).tolist(),
                "batch": model.predict(project["batch"]).tolist(),
            },
        }
        versions = prepare_peers(keys, ctx)
        print(f"versions: {versions_line(versions)}; load generator: {args.client}")
        floor_result = floor(project, 2.0)
        profile = None
        if args.profile:
            profile = profile_apps(project, root, bodies["conveyor"], 2.0)
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        for _ in range(args.rounds):
            for key in keys:
                runs[key].append(run_server(key, ctx, args))
        results = {k: summarize(v) for k, v in runs.items()}

    print(
        f"\nSingle rows ({len(project['features'])} floats) at concurrency 1 and 16, "
        f"{BATCH_ROWS}-row batches at concurrency 4; {args.duration:g} s each"
        + (f", medians of {args.rounds} rounds" if args.rounds > 1 else "")
        + f"; load from {args.client}, on the same 2 cores\n"
    )
    problems = report(results, floor_result)
    verdicts = targets(results)
    if verdicts:
        print("\nTargets (Conveyor, 1 worker, unless said):")
        for label, met, figures in verdicts:
            print(f"  {label}: {figures} — {'met' if met else 'NOT MET'}")
    if profile is not None:
        print_profile(profile)
    save_results(
        "b6_serving",
        {
            "command": "python benchmarks/b6_serving.py " + " ".join(sys.argv[1:]),
            "client": args.client,
            "duration_s": args.duration,
            "versions": versions,
            "results": results,
            "floor": floor_result,
            "targets": [{"target": t, "met": m, "figures": f} for t, m, f in verdicts],
            "profile": profile,
        },
    )
    print(f"\nB6 took {time.perf_counter() - started:.0f} s")
    if problems:
        raise SystemExit("B6: " + "; ".join(problems))


if __name__ == "__main__":
    main()
