"""The monitoring page draws each report against the thresholds it was judged by, and shows the
warnings a report raised: monitoring rows written as `conveyor monitor` writes them, in a project
of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.ui.conftest import Tab, UiServer

from conveyor.config import Settings
from conveyor.metadata.monitor_store import MonitorResult, MonitorStore
from conveyor.ui.app import UiConfig
from conveyor.workspace import close_workspaces, open_workspace

MODEL = "prices"
WARNING = "column 'size' is missing from the live data: counted as drifted"
#: (report, at, thresholds stored with it: None for a report written before they were)
REPORTS = [
    ("r1", 1_800_000_000.0, None),
    ("r2", 1_800_003_600.0, {"psi": 0.1, "js": 0.05, "share": 0.3, "pvalue": 0.01}),
    ("r3", 1_800_007_200.0, {"psi": 0.25, "js": 0.15, "share": 0.6, "pvalue": 0.05}),
]


def _rows(report: str, at: float, thresholds: dict[str, Any] | None) -> list[MonitorResult]:
    def row(kind: str, feature: str | None, metric: str, value: Any, **more: Any) -> Any:
        return MonitorResult(
            report, MODEL, 1, at, at - 600, at, 500, kind, feature, metric, value, **more
        )

    details = None if thresholds is None else json.dumps({"thresholds": thresholds})
    found = [
        row("drift", None, "drift_share", 0.5, drifted=True, details=details),
        row("drift", "area", "psi", 0.18, drifted=True),
        row("drift", "area", "ks_pvalue", 0.001, drifted=True),
        row("drift", "city", "js", 0.08, drifted=False),
    ]
    if report == "r3":
        found.append(
            row("warning", "size", "warning", None, drifted=None, details=json.dumps(
                {"message": WARNING}
            ))
        )  # fmt: skip
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS"):
            mp.delenv(var, raising=False)
        root: Path = tmp_path_factory.mktemp("ui-monitoring")
        ws = open_workspace(Settings.load(root))
        store = MonitorStore(ws.metadata)
        for report, at, thresholds in REPORTS:
            store.add(_rows(report, at, thresholds))
        server = UiServer(UiConfig(root=str(root))).start()
        yield server
        server.stop()
    close_workspaces()


@pytest.fixture
def tab(browser: Any, server: UiServer) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), server.url)
    finally:
        context.close()


def test_each_point_carries_the_threshold_of_its_report(server: UiServer) -> None:
    with server.client() as api:
        data = api.get(f"/api/monitoring/{MODEL}").json()
    assert [p["threshold"] for p in data["drift_share"]] == [0.5, 0.3, 0.6]  # 0.5: the default
    area, city = data["features"]["area"], data["features"]["city"]
    assert [p[5] for p in area["metrics"]["psi"]] == [0.2, 0.1, 0.25]
    assert [p[5] for p in area["metrics"]["ks_pvalue"]] == [None, None, None]
    assert [p[5] for p in city["metrics"]["js"]] == [0.1, 0.05, 0.15]
    assert (area["threshold"], city["threshold"]) == (0.25, 0.15)  # the latest report's
    assert "warning" not in json.dumps(data["other"])  # messages are not plotted
    latest = data["latest"]
    assert latest["thresholds"]["share"] == 0.6 and latest["thresholds"]["psi_bins"] == "deciles"
    assert latest["warnings"] == [{"feature": "size", "message": WARNING}]
    assert "warning" not in latest  # not a metric group


def _levels(tab: Tab, selector: str) -> tuple[str, int]:
    """The values a threshold line was drawn at, and at how many heights on screen."""
    line = tab.page.locator(selector)
    path = line.get_attribute("d") or ""  # M x y H x V y H x V y ... H x: a step per change
    heights = re.findall(r"M [\d.]+ ([\d.]+)", path) + re.findall(r"V ([\d.]+)", path)
    return line.get_attribute("data-values") or "", len(set(heights))


def test_threshold_lines_step_where_the_reports_thresholds_changed(tab: Tab) -> None:
    page = tab.open(f"/monitoring/{MODEL}", "monitor")
    values, heights = _levels(tab, "#drift-share path.threshold")
    assert values == "0.5,0.3,0.6" and heights == 3
    titles = page.locator("#drift-share path.threshold title").text_content()
    assert titles == "threshold per report: 0.5 → 0.3 → 0.6"
    charts = page.locator("#feature-drift .chart")
    area = charts.filter(has_text="area — psi").locator("path.threshold")
    assert area.get_attribute("data-values") == "0.2,0.1,0.25"
    city = charts.filter(has_text="city — js").locator("path.threshold")
    assert city.get_attribute("data-values") == "0.1,0.05,0.15"
    assert WARNING in page.inner_text("#report-warnings")
    assert "≥ 60% of features" in page.inner_text("#report-thresholds")
    tab.shoot("monitoring-thresholds")
    tab.clean()


def test_histograms_of_reports_without_any_say_so(server: UiServer) -> None:
    with server.client() as api:
        found = api.get(f"/api/monitoring/{MODEL}/histograms").json()
    assert found["source"] == "reference" and found["features"] == []
