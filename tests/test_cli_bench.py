"""`irqforge bench --parts` refuses a bad list before measuring anything."""

from __future__ import annotations

import pytest

from irqforge.cli import main


@pytest.mark.parametrize("parts", ["bogus", "", "gen,,latency", "gen,latencyy"])
def test_bad_parts_is_one_line(parts: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--parts", parts]) == 2
    err = capsys.readouterr().err
    assert "irqforge bench: --parts" in err
    assert "choose a comma list of gen, latency, backends, storm, fpga, ecp5, rtl_speed" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
