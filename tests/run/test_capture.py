"""Capturing a step's output: the live log is a convenience that never fails the step."""

from __future__ import annotations

from pathlib import Path

from conveyor.run.capture import capture_step, routed_output


def test_output_streams_to_the_live_log_and_the_log_goes_at_the_end(tmp_path: Path) -> None:
    live = tmp_path / "logs" / "run" / "step.log"
    with routed_output(), capture_step(live) as captured:
        print("first")
        assert live.read_text() == "first\n"
    assert captured.text() == ("first\n", "")
    assert not live.exists()  # the step's record holds the output now


def test_a_live_log_that_cannot_be_written_does_not_fail_the_step(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a file where the log's folder would be: mkdir fails
    with routed_output(), capture_step(blocker / "logs" / "step.log") as captured:
        print("still captured")
        print("and again")
    assert captured.text() == ("still captured\nand again\n", "")
