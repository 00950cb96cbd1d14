"""The prediction log: every predicted row kept with its inputs, and feedback attached later."""

from __future__ import annotations

import json
import time

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.serving.conftest import ADELIE, FEATURES, GENTOO

from conveyor.metadata.log_store import LogStore
from conveyor.predictions import read_log
from conveyor.run.maintenance import collect_garbage
from conveyor.serving.predlog import PredictionLog
from conveyor.workspace import Workspace

HOUR = 3600.0


def _plain(values: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in values]


def test_requests_are_logged_row_by_row(serve, trained: Workspace) -> None:
    server = serve(flush_s=HOUR)  # nothing is written until the server stops
    with server.client() as http:
        one = http.post("/predict", json={"instances": [ADELIE, GENTOO]}).json()
        columns = list(FEATURES)
        two = http.post(
            "/predict",
            params={"proba": "true"},
            json={"columns": columns, "data": [[GENTOO[c] for c in columns]]},
        ).json()
        assert http.post("/predict", json={"instances": [{"island": "Atlantis"}]}).is_client_error
    assert read_log(trained, "penguins").empty  # still in the buffer
    server.stop()  # a graceful stop writes the buffer

    log = read_log(trained, "penguins")
    assert len(log) == 3  # rows that were predicted; the refused request is not a prediction
    assert log["request_id"].tolist() == [one["request_id"]] * 2 + [two["request_id"]]
    assert log["row"].tolist() == [0, 1, 0]
    assert log["version"].tolist() == [1, 1, 1]
    assert log["prediction"].tolist() == ["Adelie", "Gentoo", "Gentoo"]
    assert (log["latency_ms"] > 0).all()
    assert log["at"].is_monotonic_increasing
    assert log["at"].between(time.time() - HOUR, time.time()).all()
    inputs = log[[f"input.{c}" for c in FEATURES]]
    inputs.columns = FEATURES
    expected = pd.DataFrame([ADELIE, GENTOO, GENTOO])
    pd.testing.assert_frame_equal(inputs, expected, check_dtype=False)
    assert log["probabilities"][:2].isna().all()
    assert json.loads(log["probabilities"][2]) == two["probabilities"][0]


def test_feedback_single_and_batch(serve, trained: Workspace) -> None:
    server = serve(flush_s=HOUR)
    with server.client() as http:
        rid = http.post("/predict", json={"instances": [ADELIE, GENTOO]}).json()["request_id"]
        single = http.post("/feedback", json={"request_id": rid, "label": "Adelie"})
        assert (single.status_code, single.json()) == (202, {"accepted": 1})
        batch = http.post(
            "/feedback",
            json={"feedback": [
                {"request_id": rid, "row": 1, "label": "Chinstrap"},
                {"request_id": "other", "label": 2},
            ]},
        )  # fmt: skip
        assert (batch.status_code, batch.json()) == (202, {"accepted": 2})
        refused = http.post("/feedback", json={"feedback": [{"request_id": rid}]})
        assert refused.status_code == 422
    server.stop()

    feedback = read_log(trained, "penguins", "feedback")
    assert feedback[["request_id", "row", "label"]].values.tolist() == [
        [rid, 0, "Adelie"], [rid, 1, "Chinstrap"], ["other", 0, "2"],  # mixed labels: as text
    ]  # fmt: skip
    assert len(read_log(trained, "penguins")) == 2


def test_one_odd_request_does_not_lose_the_others(serve, trained: Workspace) -> None:
    server = serve(flush_s=HOUR)  # all in one segment, written at shutdown
    with server.client() as http:
        for mass in (2**64 - 1, -1, 4000):  # integers no one arrow type holds, then a plain one
            response = http.post("/predict", json={"instances": [{**GENTOO, "body_mass_g": mass}]})
            assert response.status_code == 200, response.text
    server.stop()
    assert server.inner.state.log.failures == 0
    log = read_log(trained, "penguins")
    assert log["input.body_mass_g"].tolist() == [str(2**64 - 1), "-1", "4000"]


def test_the_background_writer_flushes_while_serving(serve, trained: Workspace) -> None:
    server = serve(flush_s=0.05)
    with server.client() as http:
        rid = http.post("/predict", json={"instances": [ADELIE]}).json()["request_id"]
        for _ in range(600):  # at most 30 s
            if not read_log(trained, "penguins").empty:
                break
            time.sleep(0.05)
        assert read_log(trained, "penguins")["request_id"].tolist() == [rid]
        http.post("/predict", json={"instances": [GENTOO]})
    server.stop()
    segments = LogStore(trained.metadata).segments("penguins")
    assert len(segments) == 2 and [s.rows for s in segments] == [1, 1]
    assert all(s.versions == (1,) for s in segments)
    assert server.inner.state.log.failures == 0


def test_since_and_other_models(serve, trained: Workspace) -> None:
    server = serve(flush_s=HOUR)
    with server.client() as http:
        http.post("/predict", json={"instances": [ADELIE]})
    server.stop()
    first_at = read_log(trained, "penguins")["at"][0]
    assert len(read_log(trained, "penguins", since=first_at)) == 1
    assert read_log(trained, "penguins", since=first_at + 1).empty
    empty = read_log(trained, "nobody")
    assert empty.empty and {"request_id", "prediction", "version"} <= set(empty.columns)
    assert list(read_log(trained, "nobody", "feedback").columns) == [
        "request_id", "row", "at", "label",
    ]  # fmt: skip


def test_close_writes_what_is_left_and_mixed_columns_are_kept(trained: Workspace) -> None:
    log = PredictionLog(trained, "penguins", flush_s=HOUR)
    log.start()
    log.record("a", 1, 1.0, {"x": [1, None], "c": ["u", None]}, 2, ["p", 3])
    log.record("b", 2, 1.0, {"x": ["text"], "d": [True]}, 1, [None], [{"p": 1.0}])
    log.feedback([("a", 0, "p"), ("a", 1, 3.5)])
    log.close()
    frame = read_log(trained, "penguins")
    assert frame["request_id"].tolist() == ["a", "a", "b"]
    assert _plain(frame["input.x"]) == ["1", None, "text"]  # ints and text: stored as text
    assert _plain(frame["input.c"]) == ["u", None, None]
    assert _plain(frame["input.d"]) == [None, None, True]
    assert _plain(frame["prediction"]) == ["p", "3", None]
    assert frame["version"].tolist() == [1, 1, 2]
    assert read_log(trained, "penguins", "feedback")["label"].tolist() == ["p", "3.5"]
    assert log.written_rows == 5


def test_segments_survive_garbage_collection(trained: Workspace) -> None:
    log = PredictionLog(trained, "penguins", flush_s=HOUR)
    log.record("a", 1, 1.0, {"x": [1.0]}, 1, ["p"])
    log.feedback([("a", 0, "p")])
    log.close()
    collect_garbage(trained, grace_s=0)
    assert read_log(trained, "penguins")["prediction"].tolist() == ["p"]
    assert read_log(trained, "penguins", "feedback")["label"].tolist() == ["p"]
    assert LogStore(trained.metadata).models() == ["penguins"]


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),  # what orjson parses as an int
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(requests=st.lists(st.lists(JSON_SCALARS, min_size=1, max_size=3), min_size=1, max_size=4))
@example(requests=[[2**64 - 1], [-1]])  # beyond int64 beside a negative: no arrow integer type
@example(requests=[["1", 1, 1.5, True, None]])
def test_any_json_values_are_written(trained: Workspace, requests: list[list[object]]) -> None:
    """A segment holds whatever values requests sent; no mix of them fails the write."""
    log = PredictionLog(trained, "anything", flush_s=HOUR)
    before = len(read_log(trained, "anything"))
    for i, values in enumerate(requests):
        log.record(f"r{i}", 1, 1.0, {"x": values, "y": values[::-1]}, len(values), values)
    log.feedback([(f"r{i}", 0, values[0]) for i, values in enumerate(requests)])
    log.flush()  # raises if a segment cannot be written
    assert log.failures == 0
    assert len(read_log(trained, "anything")) == before + sum(map(len, requests))


def test_a_segment_keeps_each_columns_type_across_requests() -> None:
    from conveyor.serving.predlog import _prediction_frame

    entries = [
        ("a" * 32, 1.0, 1, 2.5, {"x": [0.5, 1.5], "n": [1, 2], "s": ["p", "q"]}, 2, [0, 1], None),
        ("b" * 32, 2.0, 2, 3.5, {"x": [None], "n": [3], "s": ["r"]}, 1, [1], [{"0": 0.2}]),
        ("c" * 32, 3.0, 2, 4.5, {"x": [2.5], "n": [2**60]}, 1, [0], None),  # no "s"
    ]
    frame, versions = _prediction_frame(entries)
    assert versions == {1, 2}
    assert frame["request_id"].tolist() == ["a" * 32] * 2 + ["b" * 32, "c" * 32]
    assert frame["row"].tolist() == [0, 1, 0, 0]
    assert frame["at"].tolist() == [1.0, 1.0, 2.0, 3.0]
    assert frame["input.x"].dtype == "float64" and frame["input.x"].isna().tolist()[2]
    assert frame["input.n"].dtype == "int64" and frame["input.n"].iloc[-1] == 2**60
    assert frame["input.s"].tolist()[:3] == ["p", "q", "r"] and frame["input.s"].isna().iloc[3]
    assert frame["probabilities"].isna().tolist() == [True, True, False, True]
    assert frame["probabilities"].iloc[2] == '{"0": 0.2}'
