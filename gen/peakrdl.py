"""IP-XACT and HTML register documentation through PeakRDL, from the SystemRDL export.

The SystemRDL text of :mod:`.rdl` is compiled with systemrdl-compiler (the
reference SystemRDL front end) and handed to the PeakRDL exporters, so every
interchange format comes from one description and the well-kept tools of
the SystemRDL ecosystem do the format work:

``ipxact/<map>.xml``
    IEEE 1685-2014 IP-XACT, one component per SystemRDL ``addrmap``
    (``lapic``, ``ioapic``, ``ioapic_indirect`` for the IOREGSEL/IOWIN
    window, ``hpet``), by peakrdl-ipxact. Committed with the other outputs;
    deterministic (no timestamps).
HTML (``irqforge gen --html DIR``)
    A browsable register reference by peakrdl-html, one site for all
    devices. It is several megabytes of pages, scripts and fonts, so it is
    written on request and not committed.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from irqforge import __version__
from irqforge.spec import Spec

from .errors import GenError

__all__ = ["IPXACT_LIBRARY", "IPXACT_VENDOR", "emit_ipxact", "write_html"]

IPXACT_VENDOR = "irqforge.invalid"
"""The VLNV vendor of the IP-XACT components (a reserved domain: no organisation owns it)."""
IPXACT_LIBRARY = "irqforge"

_ADDRMAP = re.compile(r"^addrmap\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", re.MULTILINE)


def _compile(rdl_text: str, path: Path, top: str) -> Any:
    """The elaborated root of ``rdl_text`` (written to ``path``, which the compiler and the
    HTML exporter read; it must exist while the root is used) with ``top`` as its top address map."""
    from systemrdl import RDLCompileError, RDLCompiler
    from systemrdl.messages import MessagePrinter

    class _Collect(MessagePrinter):
        lines: list[str] = []

        def emit_message(self, lines: list[str]) -> None:
            self.lines = [*self.lines, *lines]

    printer = _Collect()
    rdlc = RDLCompiler(message_printer=printer)
    path.write_text(rdl_text, encoding="utf-8")
    try:
        rdlc.compile_file(str(path))
        return rdlc.elaborate(top_def_name=top)
    except RDLCompileError as e:
        detail = "\n".join(printer.lines) or str(e)
        raise GenError(f"the SystemRDL export {path.name} does not compile: {detail}") from e


def _maps(rdl: dict[str, str]) -> list[tuple[str, str, str]]:
    """(rdl path, addrmap name, text) for every address map of the SystemRDL outputs."""
    return [(path, name, text) for path, text in sorted(rdl.items()) for name in _ADDRMAP.findall(text)]


def emit_ipxact(spec: Spec, rdl: dict[str, str]) -> dict[str, str]:
    """``ipxact/<addrmap>.xml`` for every address map in ``rdl`` (the output of :func:`.rdl.emit`)."""
    from peakrdl_ipxact import IPXACTExporter

    from .render import banner

    out: dict[str, str] = {}
    note = banner(spec).replace("--", "- -")  # "--" may not appear inside an XML comment
    with tempfile.TemporaryDirectory(prefix="irqforge-ipxact-") as tmp:
        for path, name, text in _maps(rdl):
            root = _compile(text, Path(tmp) / Path(path).name, name)
            dest = Path(tmp) / f"{name}.xml"
            IPXACTExporter(vendor=IPXACT_VENDOR, library=IPXACT_LIBRARY, version=__version__).export(
                root.top, str(dest), component_name=name
            )
            xml = dest.read_text(encoding="utf-8")
            # the banner as the first comment after the XML declaration
            decl, _, rest = xml.partition("\n")
            out[f"ipxact/{name}.xml"] = f"{decl}\n<!--\n{note}\n-->\n{rest}"
    return out


def write_html(spec: Spec, rdl: dict[str, str], out_dir: Path) -> Path:
    """Write the peakrdl-html register reference of every address map into ``out_dir``; its index page."""
    from peakrdl_html import HTMLExporter

    with tempfile.TemporaryDirectory(prefix="irqforge-html-") as tmp:
        roots = [_compile(text, Path(tmp) / f"{name}.rdl", name).top for _path, name, text in _maps(rdl)]
        HTMLExporter().export(roots, str(out_dir), title=f"irqforge registers ({spec.platform.name})")
    return out_dir / "index.html"
