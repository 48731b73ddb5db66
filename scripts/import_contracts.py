"""import-linter's ``forbidden`` and ``layers`` contracts on irqforge as it is installed.

``pyproject.toml`` maps the subpackages to folders of their own
(``package-dir``: ``irqforge.sw`` lives in ``sw/``, ``irqforge.spec`` in
``spec/`` …). import-linter's graph builder, grimp, finds a root package with
:func:`importlib.util.find_spec` and names its modules after the folders
under that package's own folder, so a bare ``lint-imports`` sees
``irqforge/`` alone and stops at "Module 'irqforge.sw' does not exist".
import-linter has no setting for such a layout, but it lets a configuration
replace a contract type (``contract_types``): these two are the built-in
types, checked against a graph that grimp builds from every folder of the
mapping — ``irqforge`` and each ``irqforge.<sub>`` as a package of its own,
found where the editable install's finder puts it.

``pyproject.toml`` names them (``[tool.importlinter] contract_types``); they
are imported from the working folder, which ``lint-imports`` puts on
``sys.path``: run it in the repository.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import tomllib
from pathlib import Path

import grimp
from grimp.adaptors.packagefinder import ImportLibPackageFinder
from grimp.application.config import settings as grimp_settings
from grimp.application.ports.filesystem import AbstractFileSystem
from importlinter.contracts.forbidden import ForbiddenContract as _Forbidden
from importlinter.contracts.layers import LayersContract as _Layers
from importlinter.domain.contract import ContractCheck

__all__ = ["ForbiddenContract", "LayersContract", "mapped_graph"]

PYPROJECT = Path("pyproject.toml")


class _MappedPackageFinder(ImportLibPackageFinder):
    """grimp's finder, but a subpackage of ``package-dir`` is found in its own folder (grimp takes a
    dotted root package only for a namespace package's portion)."""

    def __init__(self, mapped: frozenset[str]) -> None:
        self.mapped = mapped

    def determine_package_directories(self, package_name: str, file_system: AbstractFileSystem) -> set[str]:
        if package_name not in self.mapped:
            return super().determine_package_directories(package_name, file_system)
        spec = importlib.util.find_spec(package_name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"Could not find package '{package_name}' (package-dir of {PYPROJECT})")
        return set(spec.submodule_search_locations)


@functools.cache
def mapped_graph() -> grimp.ImportGraph:
    """The import graph of every package of ``package-dir``, with the ``[tool.importlinter]`` options."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    lint = config["tool"]["importlinter"]
    roots = lint.get("root_packages") or [lint["root_package"]]
    subpackages = sorted(
        name for name in config["tool"]["setuptools"].get("package-dir", {})
        if any(name.startswith(f"{root}.") for root in roots)
    )
    saved = grimp_settings.PACKAGE_FINDER
    grimp_settings.configure(PACKAGE_FINDER=_MappedPackageFinder(frozenset(subpackages)))
    try:
        return grimp.build_graph(
            *roots,
            *subpackages,
            include_external_packages=bool(lint.get("include_external_packages", False)),
            exclude_type_checking_imports=bool(lint.get("exclude_type_checking_imports", False)),
            cache_dir=None,
        )
    finally:
        grimp_settings.configure(PACKAGE_FINDER=saved)


class ForbiddenContract(_Forbidden):
    """import-linter's ``forbidden`` contract on :func:`mapped_graph`."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(copy.deepcopy(mapped_graph()), verbose)


class LayersContract(_Layers):
    """import-linter's ``layers`` contract on :func:`mapped_graph`."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(copy.deepcopy(mapped_graph()), verbose)
