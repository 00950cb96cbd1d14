"""The JSON API over a workspace filled by real runs, through a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import itertools

import httpx
import jsonschema
import pytest
from tests.ui import pipelines as p
from tests.ui.conftest import Project, Shapes, UiServer

from conveyor.ui.monitoring import _reference_only


def test_info_names_the_stores_and_the_pipelines(api: httpx.Client, filled: Project) -> None:
    info = api.get("/api/info").json()
    assert info["root"] == str(filled.root)
    assert info["actions"] is False
    assert set(info["pipelines"]) == {f"training {p.IMG}", "fragile", "gated", "release"}


def test_runs_are_listed_newest_first_filtered_and_paged(
    api: httpx.Client, filled: Project
) -> None:
    everything = api.get("/api/runs").json()
    ids = [r["id"] for r in everything["runs"]]
    assert everything["total"] == len(ids) == 7 and everything["next"] is None
    assert ids.index(filled.training[-1]) < ids.index(filled.training[0])
    training = api.get("/api/runs", params={"pipeline": f"training {p.IMG}"}).json()
    assert [r["id"] for r in training["runs"]] == filled.training[::-1]
    assert training["runs"][0]["params"]["note"] == p.SCRIPT
    failed = api.get("/api/runs", params={"status": "failed"}).json()
    assert [r["id"] for r in failed["runs"]] == [filled.fragile]
    by_param = api.get("/api/runs", params={"params": "lr=0.2"}).json()
    assert [r["id"] for r in by_param["runs"]] == [filled.training[1]]
    first = everything["runs"][3]["started_at"]
    window = api.get("/api/runs", params={"since": first, "until": first + 0.0001}).json()
    assert [r["id"] for r in window["runs"]] == [everything["runs"][3]["id"]]
    seen, after = [], None
    while True:
        page = api.get("/api/runs", params={"limit": 2, "after": after, "count": False}).json()
        assert page["total"] is None
        seen += [r["id"] for r in page["runs"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ids


def test_a_page_of_runs_is_named_by_its_cursor_both_ways(
    api: httpx.Client, filled: Project
) -> None:
    """Older with `after=next`, newer with `before=prev`: no page needs the way it was reached."""
    query = {"pipeline": f"training {p.IMG}", "limit": 1}
    pages = [api.get("/api/runs", params=query).json()]
    while pages[-1]["next"]:
        pages.append(api.get("/api/runs", params={**query, "after": pages[-1]["next"]}).json())
    assert [page["runs"][0]["id"] for page in pages] == filled.training[::-1]
    assert [(page["offset"], page["total"]) for page in pages] == [(0, 3), (1, 3), (2, 3)]
    assert pages[0]["prev"] is None and pages[1]["prev"] and pages[2]["prev"]
    for newer, page in itertools.pairwise(pages):
        assert api.get("/api/runs", params={**query, "before": page["prev"]}).json() == newer
    uncounted = api.get("/api/runs", params={**query, "after": pages[0]["next"], "count": False})
    assert uncounted.json()["total"] is None and uncounted.json()["offset"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"after": "nonsense"}, "after"),
        ({"before": "1.5:not-an-id"}, "before"),
        ({"after": "1.5:ab12", "before": "1.5:ab12"}, "after, before"),
        ({"status": "bogus"}, "'running', 'succeeded', 'failed' or 'interrupted'"),
    ],
)
def test_bad_list_parameters_are_400s_naming_the_field(
    api: httpx.Client, params: dict, field: str
) -> None:
    response = api.get("/api/runs", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request" and field in response.json()["detail"]


def test_a_run_page_has_its_dag_steps_and_metrics(api: httpx.Client, filled: Project) -> None:
    run = api.get(f"/api/runs/{filled.training[0][:10]}").json()
    assert run["run"]["id"] == filled.training[0] and run["live"] is False
    steps = {s["name"]: s for s in run["steps"]}
    assert list(steps) == ["make_data", "holdout", "fit", "score"]
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    edges = {(a, b) for a, b, _ in run["dag"]["edges"]}
    assert edges == {("make_data", "holdout"), ("holdout", "fit"), ("holdout", "score"),
                     ("fit", "score")}  # fmt: skip
    assert [s["layer"] for s in steps.values()] == [0, 1, 2, 3]
    assert run["dag"]["complete"] is True
    losses = [m["value"] for m in run["metrics"] if m["name"] == "loss"]
    assert losses == pytest.approx([0.9, 0.81, 0.729, 0.6561])
    later = api.get(f"/api/runs/{filled.training[1]}").json()
    cached = {s["name"]: s["cached"] for s in later["steps"]}
    assert cached == {"make_data": True, "holdout": True, "fit": False, "score": False}
    assert (
        api.get("/api/runs/latest").json()["run"]["id"]
        == api.get("/api/runs").json()["runs"][0]["id"]
    )


def test_a_failed_run_shows_the_error_the_skip_and_the_traceback(
    api: httpx.Client, filled: Project
) -> None:
    run = api.get(f"/api/runs/{filled.fragile}").json()
    assert run["run"]["status"] == "failed" and "bad batch" in run["run"]["error"]
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["explode"]["status"] == "failed"
    assert steps["after"]["status"] == "skipped"
    assert ["explode", "after", []] in run["dag"]["edges"]
    step = api.get(f"/api/runs/{filled.fragile}/steps/explode").json()
    assert step["error_type"] == "ValueError" and p.SCRIPT in step["error_message"]
    assert "Traceback" in step["traceback"] and "raise ValueError" in step["traceback"]
    assert step["stdout"] == "about to fail\n"


def test_a_step_has_params_io_metrics_and_output(api: httpx.Client, filled: Project) -> None:
    step = api.get(f"/api/runs/{filled.training[0]}/steps/fit").json()
    assert step["recorded"] is True
    assert step["params"] == {"optimizer": "sgd", "comment": p.IMG}
    assert [(i["label"], i["type_name"]) for i in step["inputs"]] == [("train", "pandas.DataFrame")]
    assert [o["label"] for o in step["outputs"]] == ["output"]
    assert [m["index"] for m in step["metrics"]] == [0, 1, 2, 3]
    assert p.SVG in step["stdout"]
    assert step["step"]["seed"] is not None and step["attempts"][0]["status"] == "succeeded"
    assert (step["live"], step["state"], step["origin"]) == (False, None, None)
    missing = api.get(f"/api/runs/{filled.training[0]}/steps/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert api.get("/api/runs/ffffffffff").status_code == 404


def test_a_cached_step_names_the_step_run_that_computed_it(
    api: httpx.Client, filled: Project
) -> None:
    cached = api.get(f"/api/runs/{filled.training[1]}/steps/make_data").json()
    computed = api.get(f"/api/runs/{filled.training[0]}/steps/make_data").json()
    assert cached["step"]["cached"] is True and computed["step"]["cached"] is False
    assert cached["origin"] == {
        "step_run_id": computed["step"]["id"],
        "run_id": filled.training[0],
        "name": "make_data",
    }


def test_a_step_whose_run_was_killed_is_interrupted_not_running(
    shapes: Shapes, shapes_ui: UiServer
) -> None:
    with shapes_ui.client() as api:
        run = api.get(f"/api/runs/{shapes.killed}").json()
        step = api.get(f"/api/runs/{shapes.killed}/steps/wait_for").json()
    assert run["run"]["status"] == "interrupted" and run["live"] is False
    assert {s["name"]: s["status"] for s in run["steps"]} == {
        "make_data": "succeeded",
        "wait_for": "interrupted",  # it was running; no record says it ended
        "double": "not-run",  # in the traced graph, never reached
    }
    assert (step["recorded"], step["live"], step["state"]) == (False, False, "interrupted")
    assert "waiting for" in step["live_log"]
    # its end was never recorded: how long it was seen alive, at least
    seen = run["last_seen"]
    assert seen["by"] in ("heartbeat", "step") and seen["duration_s"] >= 0
    assert seen["at"] == pytest.approx(run["run"]["started_at"] + seen["duration_s"])
    with shapes_ui.client() as api:
        listed = api.get("/api/runs", params={"status": "interrupted"}).json()["runs"]
    assert [r["id"] for r in listed] == [shapes.killed] and listed[0]["duration_s"] is None
    assert 0 <= listed[0]["seen_s"] <= seen["duration_s"]


def test_an_artifact_has_a_preview_statistics_and_lineage(
    api: httpx.Client, filled: Project
) -> None:
    run = api.get(f"/api/runs/{filled.training[0]}").json()
    holdout = next(s for s in run["steps"] if s["name"] == "holdout")
    train_id = holdout["outputs"]["train"]
    artifact = api.get(f"/api/artifacts/{train_id[:12]}").json()
    assert artifact["id"] == train_id and artifact["materializer"] == "pandas.parquet"
    assert artifact["summary"]["shape"] == [150, 3]
    assert artifact["summary"]["head"]["columns"] == ["x", "y", "colour"]
    columns = artifact["profile"]["columns"]
    assert columns["x"]["type"] == "float" and len(columns["x"]["histogram"]["counts"]) == 20
    assert set(columns["colour"]["top"]) <= {"red", "green", p.SCRIPT}
    assert artifact["producer"]["step"] == "holdout"
    assert artifact["consumers"] == 3  # fit of each training run
    lineage = api.get(f"/api/artifacts/{train_id}/lineage").json()
    nodes = {n["id"]: n for n in lineage["nodes"]}
    assert nodes[f"a:{train_id}"]["root"] is True
    steps = {n["node"] for n in nodes.values() if n["kind"] == "step"}
    assert {"make_data", "holdout", "fit", "score"} <= steps
    fit = next(n for n in nodes.values() if n.get("node") == "fit")
    assert fit["count"] == 3  # one node stands for the three runs' fit steps
    assert {(e["source"], e["target"]) for e in lineage["edges"]} >= {(f"a:{train_id}", fit["id"])}


def test_a_model_artifact_leads_to_its_model(api: httpx.Client, filled: Project) -> None:
    train = api.get(f"/api/runs/{filled.release[0]}/steps/train").json()
    model_id = train["outputs"][0]["artifact_id"]
    artifact = api.get(f"/api/artifacts/{model_id}").json()
    assert artifact["summary"]["estimator"].endswith("LogisticRegression")
    assert artifact["models"] == [
        {"model": "penguins", "version": 1, "role": "model", "aliases": ["production"]}
    ]
    ingested = api.get(f"/api/runs/{filled.release[0]}/steps/ingest").json()
    source = api.get(f"/api/artifacts/{ingested['outputs'][0]['artifact_id']}").json()
    assert [(m["model"], m["role"]) for m in source["models"]][:1] == [
        ("penguins", "upstream of train.data, eval.data")
    ]


def test_compare_puts_params_side_by_side(api: httpx.Client, filled: Project) -> None:
    data = api.get("/api/compare", params={"runs": ",".join(filled.training)}).json()
    assert [r["id"] for r in data["runs"]] == filled.training
    assert data["differing"] == ["lr"] and data["params"][0] == "lr"
    assert set(data["metrics"]) == {"accuracy", "loss", p.IMG}
    assert [r["metrics"]["loss"] for r in data["runs"]] == pytest.approx([0.9**4, 0.8**4, 0.7**4])
    assert [pt[0] for pt in data["runs"][0]["series"]["loss"]] == [0, 1, 2, 3]
    assert api.get("/api/compare", params={"runs": ""}).status_code == 400


def test_models_list_versions_aliases_history_and_lineage(
    api: httpx.Client, filled: Project
) -> None:
    models = api.get("/api/models").json()
    assert [(m["name"], m["versions"], m["aliases"]) for m in models] == [
        ("penguins", 2, {"candidate": 2, "production": 1})
    ]
    model = api.get("/api/models/penguins").json()
    assert [v["version"] for v in model["versions"]] == [2, 1]
    v1 = model["versions"][1]
    assert v1["description"] == p.IMG
    assert v1["run"]["id"] == filled.release[0] and v1["run"]["pipeline"] == "release"
    assert v1["step"] == "train" and v1["has_reference"] is True
    assert set(v1["data"]) == {"train.data", "eval.data"}
    assert v1["signature"]["inputs"] == dict.fromkeys(p.NUMERIC, "float")  # the schema's type words
    assert v1["evaluation"]["gate"]["passed"] is True
    history = [(e["alias"], e["action"], e["version"]) for e in model["history"]]
    assert history[0] == ("production", "rollback", 1)
    assert ("candidate", "promote", 2) in history
    assert api.get("/api/models/nothing").status_code == 404


def test_monitoring_series_latest_report_and_triggers(api: httpx.Client, filled: Project) -> None:
    overview = api.get("/api/monitoring").json()
    assert [(m["model"], m["reports"]) for m in overview["models"]] == [("penguins", 3)]
    trigger = overview["triggers"][0]
    assert trigger["trigger"] == f"nightly {p.IMG}" and trigger["run_id"] == filled.trigger_run
    data = api.get("/api/monitoring/penguins").json()
    assert [round(x["value"], 2) for x in data["drift_share"]] == [0.0, 0.25, 0.25]
    psi = data["features"]["bill_length_mm"]
    assert psi["primary"] == "psi" and psi["threshold"] == 0.2
    values = [pt[1] for pt in psi["metrics"]["psi"]]
    assert values[0] < 0.2 < values[1] and [pt[2] for pt in psi["metrics"]["psi"]][1] is True
    latest = data["latest"]
    assert latest["window_start"] is not None and latest["rows"] == 333
    assert {f["feature"] for f in latest["features"]} == set(p.NUMERIC)
    histograms = api.get("/api/monitoring/penguins/histograms").json()
    assert histograms["source"] == "report"  # the distributions the report stored
    bill = next(f for f in histograms["features"] if f["feature"] == "bill_length_mm")
    assert bill["drifted"] is True and len(bill["labels"]) == len(bill["current"])
    assert sum(bill["reference"]) == pytest.approx(1.0)
    assert api.get("/api/monitoring/other").status_code == 404
    fired = api.get("/api/triggers", params={"trigger": f"nightly {p.IMG}"}).json()
    assert [e["reason"] for e in fired] == [f"schedule {p.SCRIPT}"]
    assert len(overview["triggers"]) == 2  # the schedule's and the drift trigger's
    watching = [e["trigger"] for e in data["triggers"]]  # only the triggers on this model
    assert watching == [f"drift of penguins {p.SVG}"]
    assert latest["thresholds"]["share"] == 0.5 and latest["warnings"] == []
    assert {x["threshold"] for x in data["drift_share"]} == {0.5}


def test_histograms_rebuilt_from_the_log_count_only_the_rows_the_version_served(
    filled: Project,
) -> None:
    """Every logged row was served by version 1: recomputing a report on version 2 finds none
    (monitoring counts only the rows the version monitored served, as `read_log(version=)`)."""
    from conveyor.metadata.monitor_store import MonitorStore
    from conveyor.ui.monitoring import _recomputed

    first = MonitorStore(filled.ws.metadata).latest("penguins")[0]
    assert first.version == 1 and first.window_start is not None
    served = _recomputed(filled.ws, "penguins", first)
    assert served is not None and served["source"] == "log" and "(333 rows)" in served["note"]
    assert _recomputed(filled.ws, "penguins", dataclasses.replace(first, version=2)) is None


def test_without_the_log_window_the_reference_histograms_are_shown(filled: Project) -> None:
    from conveyor.metadata.monitor_store import MonitorStore

    first = MonitorStore(filled.ws.metadata).series("penguins", "drift_share")[0]
    shown = _reference_only(filled.ws, "penguins", first)
    assert shown["source"] == "reference" and "reference distributions" in shown["note"]
    assert {f["feature"] for f in shown["features"]} == set(p.NUMERIC)
    assert all(f["current"] is None for f in shown["features"])


def test_openapi_documents_every_endpoint(api: httpx.Client) -> None:
    spec = api.get("/api/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/info", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/steps/{name}",
        "/api/compare", "/api/runs/{run_id}/rerun", "/api/artifacts/{artifact_id}",
        "/api/artifacts/{artifact_id}/lineage", "/api/models", "/api/models/{name}",
        "/api/models/{name}/promote", "/api/models/{name}/rollback", "/api/monitoring",
        "/api/monitoring/{model}", "/api/monitoring/{model}/histograms", "/api/triggers",
    }  # fmt: skip
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary") and op.get("description"), (method, path)
            assert "200" in op["responses"] or "202" in op["responses"], (method, path)
    runs = spec["paths"]["/api/runs"]["get"]
    assert {p["name"] for p in runs["parameters"]} >= {"pipeline", "status", "params", "after",
                                                       "before"}  # fmt: skip
    assert "RunPage" in spec["components"]["schemas"]
    histograms = spec["paths"]["/api/monitoring/{model}/histograms"]["get"]
    assert "`report`" in histograms["description"]


def test_openapi_documents_the_errors_the_api_returns(api: httpx.Client) -> None:
    """Invalid input is a 400 `Problem`, as the API answers, never FastAPI's 422."""
    spec = api.get("/api/openapi.json").json()
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert "422" not in op["responses"], (method, path)
            bad = op["responses"]["400"]["content"]["application/json"]["schema"]
            assert bad == problem, (method, path)
            for status, response in op["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if status.startswith("2"):  # a named model, not "any object"
                    assert "$ref" in schema or "$ref" in schema.get("items", {}), (method, path)


JSON = {"content-type": "application/json"}


def _documented(spec: dict, method: str, template: str, response: httpx.Response) -> None:
    """`response` is one the OpenAPI description lists for the operation, in its schema."""
    responses = spec["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered {status}, not documented"
    schema = responses[status]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
    ]
    assert not errors, (method, template, status, errors[:5])


def test_the_openapi_description_matches_real_responses(api: httpx.Client, filled: Project) -> None:
    spec = api.get("/api/openapi.json").json()
    run = filled.training[1]
    step = api.get(f"/api/runs/{run}/steps/holdout").json()
    artifact = step["outputs"][0]["artifact_id"]
    gets = [
        ("/api/info", "/api/info", {}),
        ("/api/runs", "/api/runs", {"limit": 2}),
        ("/api/runs", "/api/runs", {"limit": 0}),
        ("/api/runs", "/api/runs", {"after": "nonsense"}),
        ("/api/runs/{run_id}", f"/api/runs/{run}", {}),
        ("/api/runs/{run_id}", f"/api/runs/{filled.fragile}", {}),
        ("/api/runs/{run_id}", "/api/runs/ffffffffff", {}),
        ("/api/runs/{run_id}/steps/{name}", f"/api/runs/{run}/steps/make_data", {}),
        ("/api/runs/{run_id}/steps/{name}", f"/api/runs/{filled.fragile}/steps/explode", {}),
        ("/api/runs/{run_id}/steps/{name}", f"/api/runs/{run}/steps/nope", {}),
        ("/api/compare", "/api/compare", {"runs": ",".join(filled.training)}),
        ("/api/compare", "/api/compare", {"runs": ""}),
        ("/api/artifacts/{artifact_id}", f"/api/artifacts/{artifact}", {}),
        ("/api/artifacts/{artifact_id}/lineage", f"/api/artifacts/{artifact}/lineage", {}),
        ("/api/artifacts/{artifact_id}/lineage", f"/api/artifacts/{artifact}/lineage",
         {"depth": 99}),
        ("/api/models", "/api/models", {}),
        ("/api/models/{name}", "/api/models/penguins", {}),
        ("/api/models/{name}", "/api/models/nothing", {}),
        ("/api/monitoring", "/api/monitoring", {}),
        ("/api/monitoring", "/api/monitoring", {"limit": 0}),
        ("/api/monitoring/{model}", "/api/monitoring/penguins", {}),
        ("/api/monitoring/{model}", "/api/monitoring/nothing", {}),
        ("/api/monitoring/{model}/histograms", "/api/monitoring/penguins/histograms", {}),
        ("/api/monitoring/{model}/histograms", "/api/monitoring/nothing/histograms", {}),
        ("/api/triggers", "/api/triggers", {}),
        ("/api/triggers", "/api/triggers", {"limit": 0}),
    ]  # fmt: skip
    seen = set()
    for template, path, params in gets:
        response = api.get(path, params=params)
        _documented(spec, "get", template, response)
        seen.add((template, response.status_code))
    assert {("/api/runs", 400), ("/api/monitoring", 400), ("/api/triggers", 200)} <= seen
    promote = "/api/models/{name}/promote"
    url = "/api/models/penguins/promote"
    for response in (
        api.post(url, json={"version": 1}),  # read-only: 403
        api.post(url, content=b"x", headers={"content-type": "text/plain"}),  # 415
        api.post(url, content=b"{" + b" " * 70_000 + b"}", headers=JSON),  # 413
        api.get("/api/info", headers={"host": "evil.example"}),  # 400 (the Host check)
    ):
        template = "/api/info" if response.request.method == "GET" else promote
        _documented(spec, response.request.method.lower(), template, response)
