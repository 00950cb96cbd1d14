"""The dashboard in headless Chromium: every page renders, links lead from a run to an artifact
to a model, the DAG shows each step's state and follows a live run, and no payload ever runs.

Screenshots of the main pages go to tests/ui/output/ (gitignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.ui import pipelines as p
from tests.ui.conftest import Project, Tab, UiServer

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def node(name: str) -> str:
    return f"#dag g.node[data-node='{name}']"


def classes(tab: Tab, selector: str) -> set[str]:
    return set((tab.page.get_attribute(selector, "class") or "").split())


def test_runs_list_filters_pages_and_links(tab: Tab, filled: Project) -> None:
    page = tab.open("/runs", "runs")
    assert page.locator("#runs tbody tr").count() == 7
    assert page.inner_text("#runs-count") == "runs 1–7 of 7"
    names = page.locator("#runs tbody tr td:nth-child(3)").all_inner_texts()
    assert f"training {p.IMG}" in names  # shown as text, not as an element
    tab.shoot("runs")
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button[type=submit]")
    tab.wait("runs")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 1")
    assert "status=failed" in page.url
    page.fill("input[name=params]", "lr=0.2")
    page.select_option("select[name=status]", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/runs?params=lr%3D0.2")
    tab.wait("runs")
    assert page.locator("#runs tbody tr").count() == 1
    page.click(f"#runs a[href='/runs/{filled.training[1]}']")
    tab.wait("run")
    assert page.url.endswith(f"/runs/{filled.training[1]}")
    tab.clean()


def test_the_dag_shows_each_steps_state(tab: Tab, filled: Project) -> None:
    page = tab.open(f"/runs/{filled.fragile}", "run")
    assert "st-succeeded" in classes(tab, node("make_data"))
    assert "st-failed" in classes(tab, node("explode"))
    assert "st-skipped" in classes(tab, node("after"))
    assert page.locator("#dag path.edge").count() == 2
    assert page.inner_text("#run-error").startswith("step 'explode' failed: ValueError")
    page.click(node("explode"))
    page.wait_for_selector("#traceback")
    assert page.url.endswith(f"/runs/{filled.fragile}/steps/explode")
    assert "raise ValueError" in page.inner_text("#traceback")
    assert page.inner_text("#step-error") == f"ValueError: bad batch {p.SCRIPT}"
    assert "selected" in classes(tab, node("explode"))
    tab.shoot("run-failed")
    cached = tab.open(f"/runs/{filled.training[1]}", "run")
    assert "cached" in classes(tab, node("make_data")) and "cached" not in classes(tab, node("fit"))
    assert cached.text_content(f"{node('make_data')} text.sub") == "cache hit"
    assert cached.locator("#steps tbody tr").count() == 4
    cached.click(node("fit"))
    cached.wait_for_selector("#step-arguments")
    arguments = cached.inner_text("#step-arguments")
    assert "lr" in arguments and "epochs" in arguments and "train" not in arguments
    tab.shoot("run")
    tab.clean()


def test_from_a_run_to_its_model_artifact_to_the_model(tab: Tab, filled: Project) -> None:
    page = tab.open(f"/runs/{filled.release[0]}", "run")
    assert page.locator("#dag g.node").count() == 7
    page.click(node("train"))
    page.wait_for_selector("#step-outputs a")
    page.click("#step-outputs a")
    tab.wait("artifact")
    assert "/artifacts/" in page.url
    assert page.inner_text("#artifact-models").count("penguins") == 1
    assert page.locator("#lineage g.node").count() >= 5
    tab.shoot("artifact-model")
    page.click("#artifact-models a")
    tab.wait("model")
    assert page.url.endswith("/models/penguins")
    assert page.locator(".version").count() == 2
    assert page.inner_text("#aliases").count("production") == 1
    assert page.locator(".version[data-version='1'] .description").inner_text() == p.IMG
    tab.shoot("model")
    page.click(".version[data-version='1'] a[href^='/runs/']")
    tab.wait("run")
    assert page.url.endswith(f"/runs/{filled.release[0]}")
    page.go_back()
    tab.wait("model")
    tab.clean()


def test_an_artifact_shows_its_data_and_lineage(tab: Tab, filled: Project) -> None:
    with httpx.Client(base_url=tab.base) as api:
        step = api.get(f"/api/runs/{filled.training[0]}/steps/holdout").json()
    train_id = next(o["artifact_id"] for o in step["outputs"] if o["label"] == "train")
    page = tab.open(f"/artifacts/{train_id}", "artifact")
    assert page.locator("#head tbody tr").count() == 5
    assert page.locator("#columns tbody tr").count() == 3
    assert page.locator("#columns svg.spark").count() == 2  # x and y: numeric histograms
    root = page.locator(f"#lineage g.node[data-node='a:{train_id}']")
    assert "root" in (root.get_attribute("class") or "")
    tab.shoot("artifact")
    page.click("#lineage g.node.step >> nth=0")
    tab.wait("run")
    tab.clean()


def test_compare_runs_side_by_side(tab: Tab, filled: Project) -> None:
    page = tab.open(f"/compare?pipeline=training {p.IMG}", "compare")
    boxes = page.locator("#pick-runs input[type=checkbox]")
    assert boxes.count() == 3
    for i in range(3):
        boxes.nth(i).check()
    page.click("#compare-go")
    page.wait_for_selector("#compare-params")
    tab.wait("compare")
    shown = [run_id[:8] for run_id in filled.training]
    for table in ("#compare-runs", "#compare-params", "#compare-metrics"):
        heads = page.locator(f"{table} thead th").all_inner_texts()
        assert sorted(h.strip() for h in heads[1:]) == sorted(shown), table
    assert page.locator("#compare-params tr.diff").all_inner_texts()[0].startswith("lr")
    assert page.locator("#metric-charts .chart").count() == 4  # 3 metrics + loss by step
    assert page.locator("#metric-charts polyline").count() == 3
    tab.shoot("compare")
    tab.clean()


def _shown_run(tab: Tab) -> str:
    tab.wait("runs")
    rows = tab.page.locator("#runs tbody tr")
    assert rows.count() == 1
    return rows.first.get_attribute("data-run") or ""


def test_runs_pages_come_from_the_url_reload_back_or_bookmark(
    tab: Tab, filled: Project, browser
) -> None:
    """Each page is its URL: going older, reloading, going newer, going back and opening a
    bookmark all land on the page they name (one run a page here: three pages)."""
    newest_first = filled.training[::-1]
    page = tab.open(f"/runs?pipeline=training {p.IMG}&limit=1", "runs")
    assert _shown_run(tab) == newest_first[0] and page.is_disabled("#newer")
    page.click("#older")
    assert _shown_run(tab) == newest_first[1]
    bookmark = page.url
    page.click("#older")
    assert _shown_run(tab) == newest_first[2] and page.is_disabled("#older")
    page.reload()
    assert _shown_run(tab) == newest_first[2]
    assert page.inner_text("#runs-count") == "runs 3–3 of 3"
    page.click("#newer")  # after a reload: the page before, not the first
    assert _shown_run(tab) == newest_first[1]
    assert page.inner_text("#runs-count") == "runs 2–2 of 3"
    page.go_back()
    assert _shown_run(tab) == newest_first[2]
    page.go_back()
    assert _shown_run(tab) == newest_first[1]
    fresh = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        other = Tab(fresh.new_page(), tab.base)
        other.page.goto(bookmark)
        assert _shown_run(other) == newest_first[1]
        other.page.click("#newer")
        assert _shown_run(other) == newest_first[0] and other.page.is_disabled("#newer")
        other.clean()
    finally:
        fresh.close()
    tab.clean()


def test_runs_picked_on_several_pages_are_compared_together(tab: Tab, filled: Project) -> None:
    page = tab.open(f"/runs?pipeline=training {p.IMG}&limit=1", "runs")
    page.check("#runs tbody input[type=checkbox]")
    page.click("#older")
    tab.wait("runs")
    page.click("#older")
    tab.wait("runs")
    page.check("#runs tbody input[type=checkbox]")
    assert page.inner_text("#selection-count") == "2 runs selected"
    page.go_back()
    tab.wait("runs")
    assert not page.is_checked("#runs tbody input[type=checkbox]")  # the middle one: not picked
    page.reload()
    tab.wait("runs")
    assert page.locator("#selection .chip").count() == 2  # kept in the tab's session
    page.click("#compare-go")
    tab.wait("compare")
    page.wait_for_selector("#compare-params")
    compared = page.url.split("runs=")[1].split(",")
    assert sorted(compared) == sorted([filled.training[0], filled.training[2]])
    page.click("#change-selection")  # back to the picker, the compared runs still picked
    tab.wait("compare")
    assert page.locator("#pick-runs input:checked").count() == 2
    page.click(f"#selection .chip[data-run='{filled.training[0]}'] button")
    assert page.inner_text("#selection-count") == "1 run selected"
    assert page.is_disabled("#compare-go")
    tab.clean()


def test_the_compare_picker_filters_and_pages(tab: Tab, filled: Project) -> None:
    page = tab.open("/compare", "compare")
    assert page.locator("#pick-runs tbody tr").count() >= 7  # every pipeline, newest first
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/compare?status=failed")
    tab.wait("compare")
    assert page.locator("#pick-runs tbody tr").get_attribute("data-run") == filled.fragile
    page.fill("input[name=params]", "lr=0.2")
    page.select_option("select[name=status]", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/compare?params=lr%3D0.2")
    tab.wait("compare")
    assert page.locator("#pick-runs tbody tr").get_attribute("data-run") == filled.training[1]
    page = tab.open(f"/compare?pipeline=training {p.IMG}&limit=2", "compare")
    assert page.locator("#pick-runs tbody tr").count() == 2
    page.click("#older")
    tab.wait("compare")
    assert page.locator("#pick-runs tbody tr").get_attribute("data-run") == filled.training[0]
    tab.clean()


def test_a_cached_step_links_to_the_step_run_that_computed_it(tab: Tab, filled: Project) -> None:
    page = tab.open(f"/runs/{filled.training[1]}/steps/make_data", "run")
    page.wait_for_selector("#served-from")
    page.click("#served-from")
    page.wait_for_url(f"**/runs/{filled.training[0]}/steps/make_data")
    tab.wait("run")
    page.wait_for_selector("#step-panel h2")
    assert "cache hit" not in page.inner_text("#step-panel h2")
    tab.clean()


#: draws charts with the dashboard's own module and measures each x-axis label in the page
CHART_LABELS = """async ([kind, points]) => {
  const { lineChart } = await import("/static/js/charts.js");
  const chart = lineChart({ title: "t", xTime: kind === "time",
    series: [{ name: "s", color: "#000", points }] });
  document.querySelector("main").append(chart);
  const svg = chart.querySelector("svg");
  const width = svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll("text.xtick")].map((t) => {
    const box = t.getBBox();
    return { text: t.textContent, left: box.x, right: box.x + box.width, width };
  });
}"""


def test_chart_axes_label_whole_steps_and_stay_inside_the_chart(tab: Tab) -> None:
    page = tab.open("/models", "models")
    steps = page.evaluate(CHART_LABELS, ["steps", [[0, 0.9], [1, 0.8], [2, 0.7], [3, 0.6]]])
    assert [t["text"] for t in steps] == ["0", "1", "2", "3"]  # no 0.5, 1.5, ...
    one = page.evaluate(CHART_LABELS, ["steps", [[4, 1.0]]])
    assert all(float(t["text"]).is_integer() for t in one)
    start = 1_800_000_000 - 1_800_000_000 % 600  # ticks fall on both ends of the axis
    for span in (120, 600, 7200, 5 * 86400):
        points = [[start + span * i / 4, i] for i in range(5)]
        labels = page.evaluate(CHART_LABELS, ["time", points])
        assert len(labels) >= 2
        for label in labels:
            assert label["left"] >= 0 and label["right"] <= label["width"], (span, label)
    tab.clean()


def test_models_monitoring_and_api_pages(tab: Tab, filled: Project) -> None:
    page = tab.open("/models", "models")
    assert page.locator("#models tbody tr").count() == 1
    tab.shoot("models")
    page = tab.open("/monitoring", "monitoring")
    assert page.locator("#monitored tbody tr").count() == 1
    assert page.inner_text("#triggers tbody tr td:nth-child(2)") == f"nightly {p.IMG}"
    page = tab.open("/monitoring/penguins", "monitor")
    page.wait_for_selector("#histograms .chart")
    assert page.locator("#histograms .chart").count() == 4
    assert "The distributions the latest report compared" in page.inner_text("#histogram-note")
    assert page.locator("#feature-drift .chart").count() == 4
    assert page.locator("#latest-features tr[data-feature='bill_length_mm'] .drifted").count()
    # only the firings of triggers that watch this model, not the nightly schedule's
    assert page.locator("#triggers tbody tr").count() == 1
    assert f"drift of penguins {p.SVG}" in page.inner_text("#triggers tbody tr")
    tab.shoot("monitoring")
    page.click(f"#triggers a[href='/runs/{filled.drift_run}']")
    tab.wait("run")
    page = tab.open("/monitoring", "monitoring")
    assert page.locator("#triggers tbody tr").count() == 2  # every trigger's here
    page.click(f"#triggers a[href='/runs/{filled.trigger_run}']")
    tab.wait("run")
    page = tab.open("/api-docs", "api-docs")
    assert page.locator(".endpoint").count() == 16
    tab.shoot("api-docs")
    tab.clean()


def test_no_payload_runs_on_any_page(tab: Tab, filled: Project) -> None:
    """Script payloads sit in pipeline names, parameters, logged params, metric names, output,
    data, descriptions, alias reasons and trigger fields; every page shows them as text."""
    with httpx.Client(base_url=tab.base) as api:
        fit = api.get(f"/api/runs/{filled.training[0]}/steps/fit").json()
        data_id = api.get(f"/api/runs/{filled.training[0]}/steps/make_data").json()["outputs"][0][
            "artifact_id"
        ]
    pages = [
        ("/runs", "runs", f"training {p.IMG}"),
        (f"/runs/{filled.training[0]}", "run", p.SCRIPT),
        (f"/runs/{filled.training[0]}/steps/fit", "run", p.SVG),
        (f"/runs/{filled.fragile}/steps/explode", "run", p.SCRIPT),
        (f"/artifacts/{fit['outputs'][0]['artifact_id']}", "artifact", "weights"),
        (f"/artifacts/{data_id}", "artifact", p.SCRIPT),
        (f"/compare?runs={','.join(filled.training)}", "compare", p.IMG),
        ("/models", "models", "penguins"),
        ("/models/penguins", "model", p.SCRIPT),
        ("/monitoring", "monitoring", p.SCRIPT),
        ("/monitoring/penguins", "monitor", p.SVG),  # in the name of the trigger on penguins
    ]
    for path, ready, shown in pages:
        page = tab.open(path, ready)
        page.wait_for_timeout(100)  # lazily loaded parts (histograms, step panel)
        assert shown in page.inner_text("main"), path
        assert page.locator("main img, main script, main iframe, main object").count() == 0, path
        assert page.locator("main svg[onload], main [onerror]").count() == 0, path
        tab.clean()
    assert fit["params"]["comment"] == p.IMG


def test_a_running_pipeline_lights_up_live(tab: Tab, filled: Project, ui: UiServer) -> None:
    gate = filled.root / f"gate-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(
        [CONVEYOR, "run", f"{p.__file__}:gated", "-p", f"gate_file={gate}", "--no-cache"],
        cwd=filled.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _running(ui, proc)
        page = tab.open(f"/runs/{run_id}", "run")
        page.wait_for_selector(f"{node('wait_for')}.st-running", timeout=30_000)
        assert page.locator("main h1 .live").count() == 1
        assert "st-succeeded" in classes(tab, node("make_data"))
        assert {"st-pending"} & classes(tab, node("double"))  # known from the earlier run
        assert page.locator("#dag path.edge").count() == 2
        page.click(node("wait_for"))
        page.wait_for_selector("#live-log")
        assert "waiting for" in page.inner_text("#live-log")
        tab.shoot("run-live")
        page.evaluate("window.__stillHere = true")
        gate.touch()
        page.wait_for_selector(f"{node('double')}.st-succeeded", timeout=30_000)
        page.wait_for_selector("main h1 .s-succeeded")
        assert page.locator("main h1 .live").count() == 0
        assert page.evaluate("window.__stillHere") is True  # updated in place, not reloaded
        assert proc.wait(timeout=60) == 0
        tab.shoot("run-live-done")
        tab.clean()
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _running(ui: UiServer, proc: subprocess.Popen[bytes]) -> str:
    with httpx.Client(base_url=ui.url) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = api.get("/api/runs", params={"pipeline": "gated", "status": "running"}).json()
            if found["runs"]:
                return found["runs"][0]["id"]
            assert proc.poll() is None, "the run ended before it was seen running"
            time.sleep(0.1)
    raise AssertionError("the gated run never showed up as running")


def test_a_malformed_address_shows_an_error_not_a_stuck_page(tab: Tab) -> None:
    page = tab.open("/runs/%E0%A4%A", "error")
    assert "This address is not valid" in page.inner_text("#bad-address")
    assert "Loading" not in page.inner_text("main")
    page.click("#bad-address a")
    tab.wait("runs")
    tab.clean()


def test_the_api_reference_shows_what_each_endpoint_answers(tab: Tab) -> None:
    page = tab.open("/api-docs", "api-docs")
    runs = page.locator(".endpoint[data-path='/api/runs']")
    assert "RunPage" in runs.inner_text()
    runs.locator("details.fields summary").click()
    fields = runs.locator("details.fields tbody tr").all_inner_texts()
    assert any(f.startswith("next") and "string | null" in f for f in fields), fields
    assert "One of: running, succeeded, failed, interrupted." in runs.inner_text()
    one = page.locator(".endpoint[data-path='/api/runs/{run_id}/steps/{name}']")
    codes = one.locator("table.errors tbody tr").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.status)"
    )
    assert codes == ["400", "404"]
    assert "StepDetail" in one.inner_text()
    tab.clean()
