"""`irqforge doctor` shows its statuses, not rich's markup tags."""

from __future__ import annotations

import pytest

from irqforge.cli import main


def test_doctor_prints_no_markup_tags(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])
    out = capsys.readouterr().out
    assert "backend model: available" in out
    assert "[green]" not in out and "[/green]" not in out and "[yellow]" not in out and "[red]" not in out
