"""`conveyor serve`, `conveyor predict` and `conveyor predictions` on the penguins example, as a
user runs them: the server is the command in its own process, stopped with SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.e2e.conftest import Cli
from tests.serving.conftest import ADELIE, FEATURES, GENTOO
from tests.serving.live import TERMINATED, Load, ServeProcess, serve_processes

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "penguins"

SECOND = """\
from pathlib import Path

from model import build

import conveyor as cv
from conveyor.components import evaluate, ingest, register, split, train

FEATURES = ["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@cv.pipeline
def majority():
    data = ingest(str(Path(__file__).parent / "data" / "penguins.csv"))
    train_set, test_set = split(data, method="stratified", by="species", test_size=0.25)
    model = train(train_set, target="species", estimator=build("majority"), features=FEATURES)
    evaluation = evaluate(model, test_set, target="species")
    return register(model, evaluation, name="penguins", alias=None)  # registered, not promoted
"""


@pytest.fixture
def penguins(cli: Cli) -> Cli:
    """The penguins example project with penguins:1 trained, registered and at @production."""
    for name in ("pipeline.py", "model.py", "schema.json"):
        shutil.copy(EXAMPLE / name, cli.root / name)
    shutil.copytree(EXAMPLE / "data", cli.root / "data")
    assert "promoted to @production" in cli("run", "pipeline.py:training").stdout
    return cli


@pytest.fixture
def serve_cli() -> Iterator[Callable[..., ServeProcess]]:
    yield from serve_processes()


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while chunk := sock.recv(65536):  # the server closes the connection: it is shutting down
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_serve_logs_every_prediction_and_sigterm_loses_none(penguins: Cli, serve_cli) -> None:
    # --flush 3600: nothing is written while serving, so what is logged was written at shutdown
    server = serve_cli(penguins.root, "penguins@production", "--flush", "3600")
    assert "serving penguins:1 (following penguins@production)" in server.text()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        first = http.post("/predict", json={"instances": [ADELIE, GENTOO]}).json()
        second = http.post(
            "/predict",
            params={"proba": "true"},
            json={"columns": FEATURES, "data": [[GENTOO[c] for c in FEATURES]]},
        ).json()
        assert (first["predictions"], second["predictions"]) == (["Adelie", "Gentoo"], ["Gentoo"])
        feedback = [
            http.post("/feedback", json={"request_id": first["request_id"], "label": "Adelie"}),
            http.post(
                "/feedback",
                json={
                    "feedback": [
                        {"request_id": first["request_id"], "row": 1, "label": "Gentoo"},
                        {"request_id": second["request_id"], "label": "Chinstrap"},
                    ]
                },
            ),
        ]
        assert [r.status_code for r in feedback] == [202, 202]

    # a request in flight when SIGTERM comes: its headers are in, its body is not yet sent
    body = json.dumps({"instances": [ADELIE]}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100")  # the endpoint is waiting for it
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for_output("Waiting for connections to close")  # draining, not gone
        sock.sendall(body)
        status, last = _read_response(sock)
    assert status == 200 and last["predictions"] == ["Adelie"]
    assert server.proc.wait(timeout=90) in TERMINATED
    assert "Application shutdown complete" in server.text()

    logged = penguins.json("predictions", "penguins")
    assert logged["total"] == 4
    records = logged["records"]
    assert [(r["request_id"], r["row"]) for r in records] == [
        (first["request_id"], 0), (first["request_id"], 1), (second["request_id"], 0),
        (last["request_id"], 0),
    ]  # fmt: skip
    assert [r["prediction"] for r in records] == ["Adelie", "Gentoo", "Gentoo", "Adelie"]
    assert {r["version"] for r in records} == {1}
    assert all(r["latency_ms"] > 0 for r in records)
    assert {k: records[1][f"input.{k}"] for k in FEATURES} == GENTOO
    assert json.loads(records[2]["probabilities"]) == second["probabilities"][0]
    assert records[0]["probabilities"] is None

    labels = penguins.json("predictions", "penguins", "--feedback")
    assert sorted((r["request_id"], r["row"], r["label"]) for r in labels["records"]) == sorted([
        (first["request_id"], 0, "Adelie"), (first["request_id"], 1, "Gentoo"),
        (second["request_id"], 0, "Chinstrap"),
    ])  # fmt: skip

    newest = penguins.json("predictions", "penguins", "--limit", "1")["records"]
    assert [r["request_id"] for r in newest] == [last["request_id"]]
    assert penguins.json("predictions", "penguins", "--since", "3600")["total"] == 4
    assert penguins.json("predictions", "penguins", "--since", "2000-01-01T00:00:00")["total"] == 4
    assert penguins.json("predictions", "nobody") == {"model": "nobody", "total": 0, "records": []}
    table = penguins("predictions", "penguins").stdout
    assert "4 of 4 records" in table and last["request_id"][:12] in table
    assert "no predictions logged for 'nobody'" in penguins("predictions", "nobody").stdout
    bad = penguins("predictions", "penguins", "--since", "yesterday", check=None)
    assert bad.returncode != 0 and "--since 'yesterday'" in bad.stdout + bad.stderr


def test_api_key_and_hosts(penguins: Cli, serve_cli) -> None:
    server = serve_cli(
        penguins.root, "penguins@production", "--api-key-env", "PENGUINS_KEY",
        "--allow-host", "models.internal", env={"PENGUINS_KEY": "k3y"},
    )  # fmt: skip
    row = {"instances": [GENTOO]}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/health").status_code == 200
        assert http.post("/predict", json=row).status_code == 401
        assert http.get("/metadata", headers={"authorization": "Bearer nope"}).status_code == 401
        key = {"authorization": "Bearer k3y"}
        assert http.post("/predict", json=row, headers=key).json()["predictions"] == ["Gentoo"]
        internal = {**key, "host": "models.internal:8000"}
        assert http.post("/predict", json=row, headers=internal).status_code == 200
        foreign = http.post("/predict", json=row, headers={**key, "host": "evil.example"})
        assert foreign.status_code == 400 and foreign.json()["error"] == "host"
    assert server.terminate() in TERMINATED


def test_serve_refuses_to_start_without_a_model_or_its_key(penguins: Cli) -> None:
    def refused(*args: str) -> str:
        done = penguins("serve", *args, "--port", "1", check=2)  # a usage error, before binding
        return done.stdout + done.stderr

    assert "no model named 'nobody' is registered" in refused("nobody")
    assert "model 'penguins' has no alias 'staging'" in refused("penguins@staging")
    assert "not a valid model name" in refused("pen guins")
    assert "--api-key-env UNSET_KEY_VAR" in refused("penguins", "--api-key-env", "UNSET_KEY_VAR")


def test_two_workers_answer_and_metrics_add_up(penguins: Cli, serve_cli) -> None:
    server = serve_cli(penguins.root, "penguins@production", "--workers", "2")
    assert "Started parent process" in server.text()
    requests = 60
    for _ in range(requests):  # a new connection each time: the workers share them out
        with httpx.Client(base_url=server.url, timeout=30) as http:
            response = http.post("/predict", json={"instances": [GENTOO]})
            assert response.status_code == 200 and response.json()["predictions"] == ["Gentoo"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        metrics = http.get("/metrics").text
    assert 'conveyor_requests_total{endpoint="predict",status="200"} 60.0' in metrics
    assert "conveyor_predict_latency_seconds_count 60.0" in metrics
    assert 'conveyor_predictions_total{label="Gentoo"} 60.0' in metrics
    assert 'conveyor_model_version{model="penguins"} 1.0' in metrics
    assert server.terminate() in TERMINATED
    assert server.text().count("Application shutdown complete") == 2
    assert penguins.json("predictions", "penguins")["total"] == requests  # both workers flushed


def test_promote_and_rollback_while_serving(penguins: Cli, serve_cli) -> None:
    penguins.write("second.py", SECOND)
    server = serve_cli(penguins.root, "penguins@production", "--poll", "0.2")
    with Load(server.url, {"instances": [GENTOO]}) as load:
        load.wait(lambda: load.each() >= 10, "the first responses")
        assert "penguins:2 added, not promoted" in penguins("run", "second.py:majority").stdout
        penguins("models", "promote", "penguins", "2", "--reason", "test")
        promoted = load.marks()
        load.wait(lambda: load.each(2, since=promoted) >= 25, "version 2 to answer", 60)
        penguins("models", "rollback", "penguins")
        rolled_back = load.marks()
        load.wait(lambda: load.each(1, since=rolled_back) >= 25, "version 1 again", 60)
    assert server.terminate() in TERMINATED

    answers = [r for results in load.results for r in results]
    assert [r for r in answers if r[0] != 200] == []
    by_version: dict[int, set[str]] = {1: set(), 2: set()}
    for _, body in answers:
        answer = json.dumps([body["predictions"], body["probabilities"]])
        by_version[body["model"]["version"]].add(answer)
    # each version answered one way throughout, and the two ways differ: no answer mixes them
    assert len(by_version[1]) == len(by_version[2]) == 1 and by_version[1] != by_version[2]
    assert json.loads(by_version[2].pop())[0] == ["Adelie"]
    for results in load.results:  # each client went 1 → 2 → 1, never back and forth
        versions = [body["model"]["version"] for _, body in results]
        assert [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]] == [1, 2, 1]
    logged = penguins.json("predictions", "penguins", "--limit", "100000")
    assert logged["total"] == len(answers)
    assert {r["version"] for r in logged["records"]} == {1, 2}


def test_predict_command(penguins: Cli) -> None:
    frame = pd.read_csv(EXAMPLE / "data" / "penguins.csv").drop(columns=["species"]).head(30)
    frame.to_csv(penguins.root / "new.csv", index=False)
    done = penguins("predict", "penguins@production", "--input", "new.csv", "-o", "out.parquet")
    assert "wrote 30 rows to out.parquet" in done.stdout
    scored = pd.read_parquet(penguins.root / "out.parquet")
    assert list(scored.columns) == [*frame.columns, "prediction"]
    assert set(scored["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    penguins("predict", "penguins:1", "-i", "out.parquet", "-o", "again.csv", "--proba")
    again = pd.read_csv(penguins.root / "again.csv")
    assert again["prediction"].tolist() == scored["prediction"].tolist()
    assert {"proba_Adelie", "proba_Chinstrap", "proba_Gentoo"} <= set(again.columns)

    frame.loc[7, "island"] = "Atlantis"
    frame.to_csv(penguins.root / "bad.csv", index=False)
    bad = penguins("predict", "penguins@production", "-i", "bad.csv", "-o", "x.parquet", check=1)
    assert "row 7.island: 'Atlantis' is not one of" in bad.stdout + bad.stderr
    assert not (penguins.root / "x.parquet").exists()
    missing = penguins("predict", "penguins", "-i", "nope.csv", "-o", "x.parquet", check=None)
    assert missing.returncode != 0 and "nope.csv" in missing.stdout + missing.stderr
    nowhere = penguins("predict", "penguins", "-i", "new.csv", "-o", "no/dir.parquet", check=2)
    assert "predict: cannot write 'no/dir.parquet'" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
