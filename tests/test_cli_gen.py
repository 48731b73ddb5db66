"""`irqforge gen` refuses an output folder it cannot create before writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.cli import main


@pytest.mark.parametrize("flag", ["-o", "--html"])
def test_output_under_a_missing_folder_is_one_line(
    flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "nope" / "out"
    assert main(["gen", flag, str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"irqforge gen: {flag} {bad}: the folder {bad.parent} does not exist" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even generated/
