"""How pages fit on screen, in Chromium, for awkward shapes: a DAG wider than its panel and one
of 200 steps, a parameter wider than the step panel, a version without an alias, and a step whose
run was killed while it ran. Screenshots go to tests/ui/output/."""

from __future__ import annotations

from tests.ui import pipelines as p
from tests.ui.conftest import Project, Shapes, Tab


def _box(tab: Tab, selector: str) -> dict:
    box = tab.page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def _scale(tab: Tab) -> float:
    return float(tab.page.get_attribute("#dag svg.graph", "data-scale") or "nan")


def test_a_wide_dag_fits_its_panel_and_zooms(shapes_tab: Tab, shapes: Shapes) -> None:
    """Nine steps in a row, the step panel open beside them: the whole DAG shows."""
    tab = shapes_tab
    page = tab.open(f"/runs/{shapes.nine}/steps/stage", "run")
    page.wait_for_selector("#step-params")
    frame = _box(tab, "#dag")
    nodes = page.locator("#dag g.node")
    assert nodes.count() == 9
    for i in range(9):
        node = nodes.nth(i).bounding_box()
        assert node and frame["x"] <= node["x"]
        assert node["x"] + node["width"] <= frame["x"] + frame["width"], i
    fit = _scale(tab)
    assert 0.5 <= fit < 1
    assert page.evaluate("(el => el.scrollWidth <= el.clientWidth)(document.querySelector('#dag'))")
    tab.shoot("dag-fit")
    page.click(".graph-tools .zoom-actual")
    assert _scale(tab) == 1
    assert page.evaluate("(el => el.scrollWidth > el.clientWidth)(document.querySelector('#dag'))")
    page.click(".graph-tools .zoom-out")
    assert _scale(tab) < 1
    page.click(".graph-tools .zoom-fit")
    assert _scale(tab) == fit and page.inner_text(".zoom-level").endswith("(fit)")
    page.click("#steps a[href$='/steps/stage_8']")  # another step: the zoom stays
    page.wait_for_selector("#step-panel h2:has-text('stage_8')")
    assert _scale(tab) == fit and page.inner_text(".zoom-level").endswith("(fit)")
    tab.clean()


def test_a_200_step_dag_stays_readable(shapes_tab: Tab, shapes: Shapes) -> None:
    """Fitting 200 steps in the panel would shrink names to dots: the DAG stops at a legible
    scale and scrolls instead."""
    tab = shapes_tab
    page = tab.open(f"/runs/{shapes.grid}", "run")
    assert page.locator("#dag g.node").count() == 200
    assert _scale(tab) == 0.5
    name = page.locator("#dag g.node text.name").first.bounding_box()
    assert name and name["height"] >= 6  # pixels on screen
    assert page.evaluate("(el => el.scrollWidth > el.clientWidth)(document.querySelector('#dag'))")
    page.click(".graph-tools .zoom-in")
    assert _scale(tab) > 0.5
    tab.shoot("dag-200")
    tab.clean()


def test_a_long_parameter_wraps_in_the_step_panel(shapes_tab: Tab, shapes: Shapes) -> None:
    tab = shapes_tab
    page = tab.open(f"/runs/{shapes.nine}/steps/stage", "run")
    page.wait_for_selector("#step-params")
    value = page.locator("#step-params tbody td:nth-child(2)")
    assert " ".join(value.inner_text().split()) == " ".join(p.LONG.split())
    fits = "(el => el.scrollWidth <= el.clientWidth)"
    assert page.evaluate(f"{fits}(document.querySelector('#step-params').parentElement)")
    assert page.evaluate(f"{fits}(document.querySelector('#step-params tbody td:nth-child(2)'))")
    panel, cell = _box(tab, "#step-panel"), _box(tab, "#step-params tbody td:nth-child(2)")
    assert cell["x"] + cell["width"] <= panel["x"] + panel["width"]
    tab.shoot("step-long-parameter")
    tab.clean()


def test_a_version_title_keeps_its_words_apart(shapes_tab: Tab, shapes: Shapes) -> None:
    page = shapes_tab.open(f"/models/{shapes.plain_model}", "model")
    title = page.inner_text(".version[data-version='1'] h2")
    assert title.startswith("v1 registered "), title
    shapes_tab.shoot("model-no-alias")
    shapes_tab.clean()


def test_a_version_title_with_aliases(tab: Tab, filled: Project) -> None:
    page = tab.open("/models/penguins", "model")
    assert page.inner_text(".version[data-version='1'] h2").startswith("v1 production registered")
    tab.clean()


def test_a_step_of_a_killed_run_says_it_never_finished(shapes_tab: Tab, shapes: Shapes) -> None:
    tab = shapes_tab
    page = tab.open(f"/runs/{shapes.killed}/steps/wait_for", "run")
    page.wait_for_selector("#step-state")
    assert page.inner_text("#step-panel h2 .badge") == "interrupted"
    assert "Never finished" in page.inner_text("#step-state")
    assert "Not finished yet" not in page.inner_text("#step-panel")
    assert "waiting for" in page.inner_text("#live-log")
    assert page.locator("main h1 .live").count() == 0
    node = page.locator("#dag g.node[data-node='wait_for']")
    assert "st-interrupted" in (node.get_attribute("class") or "")
    assert "never finished" in (
        page.text_content("#dag g.node[data-node='wait_for'] text.sub") or ""
    )
    tab.shoot("run-interrupted")
    tab.clean()
