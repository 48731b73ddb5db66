"""The irqforge spec language: YAML with line marks, a JSON Schema, a typed
frozen model and semantic validation.

>>> from irqforge.spec import load_default
>>> spec = load_default()
>>> hex(spec.lapic.offset("EOI"))
'0xb0'
"""

from .access import Access
from .build import DEFAULT_DIR, load, load_default, spec_files
from .errors import Problem, SpecError
from .model import (
    Cpu,
    Device,
    EnumValue,
    ExcClass,
    Field,
    GateField,
    GateLayout,
    GateType,
    Idt,
    Loc,
    Platform,
    Register,
    RegisterInstance,
    Spec,
    Vector,
    VectorKind,
    VectorMap,
    VectorRange,
    Window,
)
from .schema import SCHEMA

__all__ = [
    "DEFAULT_DIR",
    "SCHEMA",
    "Access",
    "Cpu",
    "Device",
    "EnumValue",
    "ExcClass",
    "Field",
    "GateField",
    "GateLayout",
    "GateType",
    "Idt",
    "Loc",
    "Platform",
    "Problem",
    "Register",
    "RegisterInstance",
    "Spec",
    "SpecError",
    "Vector",
    "VectorKind",
    "VectorMap",
    "VectorRange",
    "Window",
    "load",
    "load_default",
    "spec_files",
]
