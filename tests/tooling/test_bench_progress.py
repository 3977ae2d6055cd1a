"""Long benchmark runs show a progress bar on a terminal, and nothing in a file."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench import progress_bar


def test_a_run_on_a_terminal_shows_how_many_of_how_many_and_the_time_left() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with progress_bar("orders awaiting shipment", 10_000, console=console) as update:
        update(2_500)
        console.file.flush()
        update(5_000)
    drawn = screen.getvalue()
    assert "orders awaiting shipment" in drawn
    assert "5000/10000" in drawn
    assert "left" in drawn


def test_a_run_written_to_a_file_draws_no_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar("checkout batches", 6) as update:
        for done in range(1, 7):
            update(done)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
