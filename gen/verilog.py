"""Verilog of the RTL blocks and the Verilator lint waiver file.

``verilog/irqforge_<block>.v`` for every block :func:`irqforge.hw.top_modules`
returns (any subset, since blocks land one by one), converted with
``emit_src=False`` so no source paths leak into the output.

``verilog/lint.vlt`` concatenates the per-block waiver files ``hw/lint/*.vlt``
in name order under one banner and one ``\\`verilator_config`` line (see
``hw/lint/README.md`` for the scheme).
"""

from __future__ import annotations

from importlib import resources

from irqforge.spec import Spec

from .render import banner, comment

__all__ = ["emit", "emit_lint", "lint_dir"]

CONFIG_DIRECTIVE = "`verilator_config"


def lint_dir() -> resources.abc.Traversable:
    """``hw/lint`` inside the installed :mod:`irqforge.hw` package."""
    return resources.files("irqforge.hw").joinpath("lint")


def emit(spec: Spec) -> dict[str, str]:
    """``verilog/<module>.v`` for every RTL block that exists (converted in parallel)."""
    from irqforge.hw import convert_all  # gen → hw is allowed (docs/architecture.md); imported late: slow

    head = comment(banner(spec), "slash")
    return {f"verilog/{name}.v": f"{head}\n{text}" for name, text in convert_all(spec).items()}


def emit_lint(spec: Spec) -> dict[str, str]:
    """``verilog/lint.vlt``: every ``hw/lint/*.vlt`` under one header."""
    lines = [
        comment(banner(spec), "slash"),
        "// Lint waivers for the generated RTL (a comment starting with the tool's",
        "// name would be read as a pragma). Lint one block with",
        "//   $ verilator --lint-only -Wall lint.vlt irqforge_<block>.v",
        "// and the platform with all five files and --top-module irqforge_platform.",
        "// Each section comes from hw/lint/<file>.vlt; every waiver there says why.",
        CONFIG_DIRECTIVE,
    ]
    from irqforge.hw import waiver_sections

    for name, kept in waiver_sections(lint_dir()):
        lines += ["", f"// ---- hw/lint/{name}", *kept]
    return {"verilog/lint.vlt": "\n".join(lines) + "\n"}
