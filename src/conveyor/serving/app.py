"""The FastAPI app of `conveyor serve`: predict, feedback, health, ready, metadata, metrics.

The request path is kept short on purpose: the body is read as bytes and parsed with orjson (it
is never unpickled or evaluated), checked against the model's signature in plain Python, turned
into the model's input (a frame, or the float array itself where that is the same to the model:
see serving.inputs), predicted, logged to an in-memory buffer, and answered. Bad input of any
kind is a 4xx with a message naming the field; only a failure of the model itself is a 500.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from conveyor.config import Settings
from conveyor.exceptions import InputError
from conveyor.registry import ModelRegistry
from conveyor.serving.guard import BodyTooLarge, Guard
from conveyor.serving.metrics import ServerMetrics
from conveyor.serving.predlog import PredictionLog
from conveyor.serving.slot import LoadedModel, ModelSlot
from conveyor.workspace import open_workspace

__all__ = ["ServeConfig", "create_app"]

logger = logging.getLogger("conveyor.serving")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """Everything a server (or each of its workers) needs; JSON-able for the workers."""

    ref: str
    root: str | None = None
    host: str = "127.0.0.1"
    api_key_env: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    max_body: int = 10 * 1024 * 1024
    max_rows: int = 100_000
    poll_s: float = 1.0
    flush_s: float = 1.0

    def hosts(self) -> set[str]:
        names = {h.lower() for h in self.allowed_hosts}
        if self.host not in ("0.0.0.0", "::"):
            names.add(self.host.lower())
        # a Host header brackets an IPv6 address ([fe80::1]:8000), as the guard compares it
        return set(LOCAL_HOSTS) | {f"[{n}]" if ":" in n and n[0] != "[" else n for n in names}


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _problem(status: int, kind: str, detail: str, errors: list | None = None) -> Response:
    body: dict[str, Any] = {"error": kind, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["instances"],
                            "additionalProperties": False,
                            "properties": {
                                "instances": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"type": "object", "additionalProperties": True},
                                }
                            },
                        },
                        {
                            "type": "object",
                            "required": ["columns", "data"],
                            "additionalProperties": False,
                            "properties": {
                                "columns": {
                                    "type": "array",
                                    "uniqueItems": True,
                                    "items": {"type": "string"},
                                },
                                "data": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"type": "array", "items": {}},
                                },
                            },
                        },
                    ]
                }
            }
        },
    },
    "responses": {
        "400": {"description": "The body is not JSON."},
        "401": {"description": "Missing or wrong API key."},
        "413": {"description": "The body is larger than the limit."},
        "415": {"description": "The body is not application/json."},
        "422": {"description": "The input does not match the model's signature."},
        "503": {"description": "No model is loaded yet."},
    },
}

FEEDBACK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/FeedbackItem"},
                        {
                            "type": "object",
                            "required": ["feedback"],
                            "properties": {
                                "feedback": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"$ref": "#/components/schemas/FeedbackItem"},
                                }
                            },
                        },
                    ]
                }
            }
        },
    },
    "responses": PREDICT_BODY["responses"],
}

FEEDBACK_ITEM = {
    "type": "object",
    "required": ["request_id", "label"],
    "additionalProperties": False,
    "properties": {
        "request_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "label": {"type": ["string", "number", "boolean"]},
        "row": {"type": "integer", "minimum": 0},
    },
}


def create_app(config: ServeConfig) -> Any:
    """The ASGI app serving `config.ref` (loaded when the app starts)."""
    settings = Settings.load(
        None if config.root is None else __import__("pathlib").Path(config.root)
    )
    ws = open_workspace(settings)
    registry = ModelRegistry(ws)
    metrics = ServerMetrics()
    slot = ModelSlot(
        registry,
        config.ref,
        poll_s=config.poll_s,
        max_rows=config.max_rows,
        # each worker sets the gauge as it swaps: /metrics may be answered by another worker
        on_load=lambda loaded: metrics.version.labels(loaded.name).set(loaded.version),
    )
    log = PredictionLog(ws, slot.ref.name, flush_s=config.flush_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot.start()
        log.start()
        _version_gauge()
        gc.collect()  # the model and the app are long-lived: keep them out of every collection
        gc.freeze()
        try:
            yield
        finally:
            slot.stop()
            log.close()

    def _version_gauge() -> None:
        if slot.current is not None:
            metrics.version.labels(slot.ref.name).set(slot.current.version)

    app = FastAPI(
        title=f"Conveyor model server: {config.ref}",
        version="1",
        lifespan=lifespan,
        description="Predictions from a model in the Conveyor registry, validated and logged.",
    )
    app.state.slot, app.state.log, app.state.metrics = slot, log, metrics

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        metrics.errors.labels("validation").inc()
        errors = [
            {"field": ".".join(map(str, e.get("loc", ()))), "message": e.get("msg", "")}
            for e in err.errors()
        ]
        return _problem(422, "validation", "invalid request parameters", errors)

    async def _body(request: Request) -> tuple[Any, Response | None]:
        try:
            raw = await request.body()
        except BodyTooLarge as err:
            metrics.errors.labels("too_large").inc()
            return None, _problem(413, "too_large", str(err))
        try:
            return orjson.loads(raw), None
        except orjson.JSONDecodeError as err:
            metrics.errors.labels("json").inc()
            return None, _problem(400, "json", f"the body is not valid JSON: {err}")

    @app.post("/predict", openapi_extra=PREDICT_BODY, response_model=None)
    async def predict(request: Request, proba: bool = False) -> Response:
        """Predict rows given as `instances` or as `columns` + `data`."""
        started = time.perf_counter()
        body, problem = await _body(request)
        if problem is not None:
            metrics.requests.labels("predict", str(problem.status_code)).inc()
            return problem
        loaded = slot.current
        if loaded is None:
            return _problem(503, "not_ready", "no model is loaded yet")
        try:
            columns, rows = loaded.schema.columns_from_body(body)
            features = loaded.features(columns)
        except InputError as err:
            metrics.errors.labels("input").inc()
            metrics.requests.labels("predict", "422").inc()
            return _problem(422, "input", str(err), err.errors)
        if proba and not loaded.can_proba:
            metrics.requests.labels("predict", "422").inc()
            return _problem(422, "proba", f"{loaded.name}:{loaded.version} gives no probabilities")
        try:
            predicted = loaded.call("predict", features)
            probabilities = _probabilities(loaded, features) if proba else None
        except (ValueError, TypeError) as err:  # the model refused values the signature allowed
            metrics.errors.labels("model_input").inc()
            metrics.requests.labels("predict", "422").inc()
            return _problem(422, "model_input", f"the model cannot predict this input: {err}")
        predictions = predicted.tolist() if hasattr(predicted, "tolist") else list(predicted)
        request_id = uuid.uuid4().hex
        latency = time.perf_counter() - started
        logged = loaded.logged_inputs(columns, features)
        log.record(
            request_id, loaded.version, latency * 1000, logged, rows, predicted, probabilities
        )
        metrics.latency.observe(latency)
        metrics.requests.labels("predict", "200").inc()
        metrics.observe_predictions(predicted, loaded.classes is not None)
        content: dict[str, Any] = {
            "predictions": predictions,
            "model": {"name": loaded.name, "version": loaded.version},
            "request_id": request_id,
        }
        if probabilities is not None:
            content["probabilities"] = probabilities
        return _json(content, headers={"x-request-id": request_id})

    @app.post("/feedback", openapi_extra=FEEDBACK_BODY, response_model=None, status_code=202)
    async def feedback(request: Request) -> Response:
        """Attach ground truth to earlier predictions, by request id (and row)."""
        body, problem = await _body(request)
        if problem is not None:
            return problem
        items, errors = _feedback_items(body)
        if errors:
            metrics.errors.labels("feedback").inc()
            return _problem(422, "input", errors[0]["field"] + ": " + errors[0]["message"], errors)
        log.feedback(items)
        metrics.requests.labels("feedback", "202").inc()
        return _json({"accepted": len(items)}, 202)

    @app.get("/health")
    async def health() -> Response:
        """Liveness: the process answers."""
        return _json({"status": "ok"})

    @app.get("/ready", responses={503: {"description": "No model is loaded yet."}})
    async def ready() -> Response:
        """Readiness: a model is loaded and can answer."""
        loaded = slot.current
        if loaded is None:
            return _json({"ready": False, "error": slot.last_error}, 503)
        return _json({"ready": True, "model": loaded.name, "version": loaded.version})

    @app.get("/metadata")
    async def metadata() -> Response:
        """The model being served: name, version, alias followed, input schema, metrics."""
        loaded = slot.current
        if loaded is None:
            return _problem(503, "not_ready", "no model is loaded yet")
        _version_gauge()
        return _json(
            {
                "name": loaded.name,
                "version": loaded.version,
                "alias": slot.ref.alias,
                "follows": str(slot.ref),
                "inputs": loaded.schema.describe(),
                "called_with": "array" if loaded.array_input else "DataFrame",
                "target": loaded.signature.get("target"),
                "task": loaded.signature.get("task"),
                "classes": list(loaded.classes) if loaded.classes is not None else None,
                "metrics": loaded.metrics,
                "loaded_at": loaded.loaded_at,
                "last_error": slot.last_error,
            }
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus exposition: requests, latency, errors by kind, version, predictions."""
        _version_gauge()
        data, kind = metrics.exposition()
        return Response(data, media_type=kind)

    app.openapi_schema = None
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {})["FeedbackItem"] = (
                FEEDBACK_ITEM
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return Guard(
        app,
        allowed_hosts=config.hosts(),
        api_key=_api_key(config),
        max_body=config.max_body,
        on_reject=lambda kind: metrics.errors.labels(kind).inc(),
    )


def _probabilities(loaded: LoadedModel, features: Any) -> list[dict[str, float]]:
    matrix = loaded.call("predict_proba", features)
    classes = [str(c) for c in loaded.classes or ()]
    return [dict(zip(classes, map(float, row), strict=True)) for row in matrix]


def _feedback_items(body: Any) -> tuple[list[tuple[str, int, Any]], list[dict[str, str]]]:
    batch = isinstance(body, dict) and "feedback" in body  # body may be any JSON value
    entries = body["feedback"] if batch else [body]
    if not isinstance(entries, list) or not entries:
        return [], [{"field": "feedback", "message": "must be a non-empty list"}]
    items, errors = [], []
    for i, entry in enumerate(entries):
        where = f"feedback[{i}]" if batch else "body"
        if not isinstance(entry, dict):
            errors.append({"field": where, "message": "must be an object"})
            continue
        rid, label, row = entry.get("request_id"), entry.get("label"), entry.get("row", 0)
        extra = sorted(set(entry) - {"request_id", "label", "row"})
        if extra:
            errors.append({"field": f"{where}.{extra[0]}", "message": "unexpected key"})
        elif not isinstance(rid, str) or not 0 < len(rid) <= 64:
            errors.append(
                {"field": f"{where}.request_id", "message": "must be a request id string"}
            )
        elif "label" not in entry or isinstance(label, (list, dict)) or label is None:
            errors.append({"field": f"{where}.label", "message": "must be a single non-null value"})
        elif not isinstance(row, int) or isinstance(row, bool) or row < 0:
            errors.append({"field": f"{where}.row", "message": "must be an integer >= 0"})
        else:
            items.append((rid, row, label))
    return items, errors


def _api_key(config: ServeConfig) -> str | None:
    import os

    if config.api_key_env is None:
        return None
    key = os.environ.get(config.api_key_env)
    if not key:
        raise RuntimeError(f"--api-key-env {config.api_key_env}: that variable is not set or empty")
    return key
