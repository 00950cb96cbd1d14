"""`conveyor ui` itself: serves the project it is started in, on the port asked, and says no
clearly when it cannot."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.ui.conftest import Project

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(root: Path, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    for _ in range(3):  # another process may take the free port first
        port = _free_port()
        proc = subprocess.Popen(
            [CONVEYOR, "ui", "--port", str(port), *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/api/info", timeout=2).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                time.sleep(0.1)
        output = proc.communicate(timeout=30)[0] if proc.poll() is not None else ""
        if "address already in use" not in output.lower():
            proc.kill()
            raise AssertionError(f"conveyor ui did not start:\n{output}")
    raise AssertionError("no free port")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


def test_conveyor_ui_serves_the_project_it_starts_in(filled: Project) -> None:
    proc, url = _serve(filled.root, env=_env())
    try:
        info = httpx.get(f"{url}/api/info").json()
        assert info["root"] == str(filled.root) and info["actions"] is False
        page = httpx.get(f"{url}/runs")
        assert page.status_code == 200 and 'src="/static/js/main.js"' in page.text
        assert httpx.get(f"{url}/api/runs", headers={"host": "evil.example"}).status_code == 400
    finally:
        output = _stop(proc)
    assert f"Conveyor dashboard on {url}" in output and "read-only" in output


def test_with_an_api_key_actions_need_it(filled: Project) -> None:
    proc, url = _serve(filled.root, "--api-key-env", "UI_KEY", env=_env(UI_KEY="s3cret"))
    try:
        assert httpx.get(f"{url}/api/info").json()["actions"] is True
        body = {"alias": "production"}
        denied = httpx.post(f"{url}/api/models/penguins/rollback", json=body)
        assert denied.status_code == 401
        wrong = httpx.post(
            f"{url}/api/models/penguins/rollback",
            json={"alias": "production", "reason": "x" * 3000},
            headers={"authorization": "Bearer s3cret"},
        )
        assert wrong.status_code == 400  # the key passed; the body did not
    finally:
        _stop(proc)


def test_the_help_says_how_an_exposed_dashboard_is_reached() -> None:
    proc = subprocess.run(
        [CONVEYOR, "ui", "--help"], env=_env(COLUMNS="200"), capture_output=True, text=True
    )
    assert proc.returncode == 0
    host_help = proc.stdout.split("--host <str>")[1].split("--port <")[0]
    assert "0.0.0.0" in host_help and "--allow-host" in host_help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api-key-env", "NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE"),
        (["--port", "70000"], "70000"),
    ],
)
def test_bad_usage_exits_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [CONVEYOR, "ui", *args],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert message in proc.stderr + proc.stdout
