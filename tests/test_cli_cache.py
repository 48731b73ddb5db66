"""``irqforge cache``: where the builds are, how big, and clearing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.cli import main


def test_cache_shows_and_clears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("IRQFORGE_CACHE_DIR", str(root))
    (root / "verilator" / "lib").mkdir(parents=True)
    (root / "verilator" / "lib" / "a.so").write_bytes(b"x" * 2048)
    (root / "cocotb").mkdir()
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out
    assert "verilator" in out and "2.0 KiB" in out
    assert main(["cache", "--clear"]) == 0
    assert "2.0 KiB in 2 entries removed" in capsys.readouterr().out
    assert list(root.iterdir()) == []
