"""Fixtures of the spec tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from specedit import SpecCopy


@pytest.fixture
def spec_copy(tmp_path: Path) -> SpecCopy:
    """A fresh copy of the shipped spec directory to edit."""
    return SpecCopy(tmp_path / "spec")
