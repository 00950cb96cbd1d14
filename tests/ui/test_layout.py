"""How pages fit on screen, in Chromium, for awkward shapes: a DAG wider than its panel and one
of 200 steps, a parameter wider than the step panel, a version without an alias, and a step whose
run was killed while it ran. Screenshots go to tests/ui/output/."""

from __future__ import annotations

import httpx
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
    # its end was never recorded: how long it ran at least, until it was last seen
    assert page.inner_text("#run-duration").startswith("at least ")
    assert "last heartbeat" in page.inner_text("#run-duration") or "last step" in page.inner_text(
        "#run-duration"
    )
    page = tab.open("/runs?status=interrupted", "runs")
    assert page.inner_text(f"#runs tr[data-run='{shapes.killed}'] td:nth-child(6)").startswith("≥ ")
    tab.shoot("run-interrupted")
    tab.clean()


#: each edge of a drawn graph: the boxes it joins, from their `transform`s
EDGES = """(box) => {
  const at = (id) => {
    const g = box.querySelector(`g.node[data-node="${id}"]`);
    const [x, y] = g.getAttribute("transform").match(/[-\\d.]+/g).map(Number);
    return { x, y };
  };
  return [...box.querySelectorAll("path.edge")].map((p) => ({
    from: p.dataset.from, to: p.dataset.to, classes: p.getAttribute("class"),
    x1: at(p.dataset.from).x, x2: at(p.dataset.to).x,
  }));
}"""


def test_a_step_that_passes_its_input_through_keeps_the_lineage_flowing_right(
    shapes_tab: Tab, shapes: Shapes
) -> None:
    """`check` returns the data it read: the same bytes, the same artifact. The lineage draws
    that as an input of `check`, passed through — not as a loop that drags `make_data` into
    the column of its own output with edges running back through the boxes."""
    tab = shapes_tab
    with httpx.Client(base_url=tab.base) as api:
        data = api.get(f"/api/runs/{shapes.relay}/steps/make_data").json()["outputs"][0]
    page = tab.open(f"/artifacts/{data['artifact_id']}", "artifact")
    edges = page.locator("#lineage").evaluate(EDGES)
    assert edges and all(e["x1"] < e["x2"] for e in edges), edges  # left to right, every one
    through = [e for e in edges if "passthrough" in e["classes"]]
    assert len(through) == 1 and through[0]["to"].startswith("s:")
    assert not [e for e in edges if e["from"] == through[0]["to"] and e["to"] == through[0]["from"]]
    assert "check read the artifact and wrote it back unchanged" in page.inner_text(
        "#passed-through"
    )
    tab.shoot("lineage-passed-through")
    tab.clean()


def test_a_multi_line_argument_keeps_its_shape_without_blank_lines(
    shapes_tab: Tab, shapes: Shapes
) -> None:
    tab = shapes_tab
    page = tab.open(f"/runs/{shapes.relay}/steps/check", "run")
    page.wait_for_selector("#step-arguments")
    cell = page.locator("#step-arguments tbody td:nth-child(2)")
    shown = cell.inner_text().split("\n")
    assert [line.strip() for line in shown] == [line.strip() for line in p.SPEC.split("\n")]
    indents = [len(line) - len(line.lstrip()) for line in shown]
    assert max(indents) <= 8 and indents[1] < indents[2]  # the nesting, two spaces a level
    lines = page.evaluate(
        "(td) => td.getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight)",
        cell.element_handle(),
    )
    assert lines < len(shown) + 1.5  # one line on screen per line of text: no blank gaps
    fits = "(el => el.scrollWidth <= el.clientWidth)"
    assert page.evaluate(f"{fits}(document.querySelector('#step-arguments').parentElement)")
    tab.shoot("step-multi-line-argument")
    tab.clean()


def test_a_long_json_artifact_is_pretty_printed_and_folded(shapes_tab: Tab, shapes: Shapes) -> None:
    tab = shapes_tab
    with httpx.Client(base_url=tab.base) as api:
        step = api.get(f"/api/runs/{shapes.relay}/steps/check").json()
    report = next(o for o in step["outputs"] if o["label"] == "report")
    assert report["size"] > 500
    page = tab.open(f"/artifacts/{report['artifact_id']}", "artifact")
    folded = page.inner_text("#value")
    assert folded.startswith('{\n  "column_0": {\n    "missing": 0,')  # one key a line
    assert "column_11" not in folded and page.get_attribute("#value", "data-folded") == "yes"
    page.click("#value-toggle")
    whole = page.inner_text("#value")
    assert '"column_11": {' in whole and whole.rstrip().endswith("}")
    assert page.inner_text("#value-toggle") == "Fold"
    tab.shoot("artifact-json")
    tab.clean()


def test_the_step_panel_tables_fit_it(tab: Tab, filled: Project) -> None:
    """A long type name (an sklearn estimator's) and the sizes beside it stay inside the panel."""
    page = tab.open(f"/runs/{filled.release[0]}/steps/evaluate", "run")
    page.wait_for_selector("#step-inputs")
    panel = _box(tab, "#step-panel")
    for table in ("#step-inputs", "#step-outputs"):
        fits = "(el => el.scrollWidth <= el.clientWidth)"
        assert page.evaluate(f"{fits}(document.querySelector('{table}').parentElement)"), table
        sizes = page.locator(f"{table} tbody td:nth-child(4)")
        for i in range(sizes.count()):
            box = sizes.nth(i).bounding_box()
            assert box and box["x"] + box["width"] <= panel["x"] + panel["width"], table
            assert sizes.nth(i).inner_text().endswith("B") and "\n" not in sizes.nth(i).inner_text()
    assert "sklearn.linear_model._logistic.LogisticRegression" in page.inner_text("#step-inputs")
    tab.shoot("step-inputs")
    tab.clean()
