"""Scale tests: executors, map, a two-node Ray cluster and an S3 server, all real and local.

The Ray cluster (a head node and a second node, one CPU each) and moto's S3 server are started
once per session, on first use, and stopped at its end. Tests that need Ray are marked `ray`
(`-m "not ray"` skips the ~20 s cluster start-up when iterating on the rest).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conveyor.run.executors import make_executor

from ._servers import MotoServer, RayCluster

EXECUTORS = ["local", "process", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.fixture(scope="session")
def ray_cluster(moto_server: MotoServer) -> Iterator[RayCluster]:
    """A two-node Ray cluster on 127.0.0.1; this process's drivers (and its children) join it.

    Its nodes reach the S3 server as the tests do: steps on Ray can use an s3:// store.
    """
    cluster = RayCluster(env=moto_server.aws_env()).start()
    names = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.update({k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
    try:
        yield cluster
    finally:
        import ray

        ray.shutdown()  # the driver RayExecutor connected in this process
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        cluster.stop()


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """Makes a fresh executor of each kind (a run shuts its executor down at the end)."""
    name = request.param
    address = request.getfixturevalue("ray_cluster").address if name == "ray" else None
    return lambda: make_executor(name, workers=2, ray_address=address)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_url(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://BUCKET/prefix` in a fresh bucket of the moto server, with boto pointed at it.

    botocore reads AWS_ENDPOINT_URL whenever s3fs creates a client; s3fs's own
    FSSPEC_S3_ENDPOINT_URL is read once, when fsspec is first imported, so it cannot be set here.
    """
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in moto_server.aws_env().items():
        monkeypatch.setenv(name, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a client made before this test's environment
    bucket = f"conveyor-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(bucket)
    return f"s3://{bucket}/prefix"
