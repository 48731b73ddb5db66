"""JSON Schema of the spec files: structure only.

Semantic checks (overlaps, widths, vector collisions …) live in
:mod:`irqforge.spec.build`. The same schema is emitted as
``generated/schema/irqforge-spec.schema.json`` for editors.
"""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://irqforge.invalid/schema/irqforge-spec.schema.json"

# Each "description" below is a noun phrase: editors show it, and validation
# messages read "<path>: <value> is not <description>".
_name = {
    "type": "string",
    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "a name (letters, digits and _, not starting with a digit)",
}
_text = {"type": "string"}
# the C headers write clock_hz, hz and parameters as 32-bit constants
_U32_MAX = 0xFFFF_FFFF
_uint = {"type": "integer", "minimum": 0}
# an integer, or an expression over the device's params ("pins - 1")
_expr = {
    "anyOf": [
        {"type": "integer"},
        {"type": "string", "pattern": r"^[A-Za-z0-9_ +\-*()<>|&]+$"},
    ],
    "description": 'an integer, or an expression over the device params such as "pins - 1"',
}
_bits = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\s*[0-9]+\s*(:\s*[0-9]+\s*)?$"},
    ],
    "description": 'a bit number, or a bit range "msb:lsb" in quotes',
}
_access = {"enum": ["ro", "rw", "wo", "w1c", "rc", "wl", "rsvd"]}

_enum_value = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "value"],
    "properties": {"name": _name, "value": _uint, "description": _text},
}

_field = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "bits"],
    "properties": {
        "name": _name,
        "bits": _bits,
        "access": _access,
        "reset": _expr,
        "description": _text,
        "values": {"type": "array", "items": {"$ref": "#/$defs/enum_value"}},
    },
}


def _register(where: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", where],
        "properties": {
            "name": _name,
            where: _uint,
            "width": {"enum": [32, 64]},
            "access": _access,
            "reset": _expr,
            "description": _text,
            "count": _expr,
            "stride": _uint,
            "fields": {"type": "array", "items": {"$ref": "#/$defs/field"}},
        },
    }


_msr = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "address"],
    "properties": {
        "name": _name,
        "address": {"type": "integer", "minimum": 0, "maximum": _U32_MAX},
        "description": _text,
        "reserved": {"enum": ["gp", "ignore"]},
        "fields": {"type": "array", "items": {"$ref": "#/$defs/field"}},
        "modes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "fields"],
                "properties": {
                    "name": _name,
                    "description": _text,
                    "fields": {"type": "object", "additionalProperties": _uint},
                },
            },
        },
        "transitions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["from", "to"],
                "properties": {"from": _name, "to": _name},
            },
        },
    },
}

_x2apic = {
    "type": "object",
    "additionalProperties": False,
    "required": ["msr_base"],
    "properties": {
        "msr_base": {"type": "integer", "minimum": 0, "maximum": _U32_MAX},
        "description": _text,
        "registers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": _name,
                    "msr_name": _name,
                    "offset": _uint,
                    "width": {"enum": [32, 64]},
                    "access": _access,
                    "absent": {"type": "boolean"},
                    "reserved": {"enum": ["gp", "ignore"]},
                    "zero": {"type": "boolean"},
                    "description": _text,
                    "fields": {"type": "array", "items": {"$ref": "#/$defs/field"}},
                },
            },
        },
    },
}

_device = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "bus", "address_width", "size", "registers"],
    "properties": {
        "name": {"enum": ["lapic", "ioapic", "hpet"]},
        "description": _text,
        "bus": {"enum": ["axi4-lite", "apb4"]},
        "address_width": {"type": "integer", "minimum": 2, "maximum": 32},
        "size": {"type": "integer", "minimum": 4},
        "data_width": {"enum": [32]},
        "params": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": _U32_MAX}},
        "registers": {"type": "array", "items": {"$ref": "#/$defs/register"}},
        "msrs": {"type": "array", "items": _msr},
        "x2apic": _x2apic,
        "windows": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "select", "data", "registers"],
                "properties": {
                    "name": _name,
                    "select": _name,
                    "data": _name,
                    "description": _text,
                    "registers": {"type": "array", "items": {"$ref": "#/$defs/window_register"}},
                },
            },
        },
    },
}

_vector = {
    "type": "object",
    "additionalProperties": False,
    "required": ["number", "name", "kind"],
    "properties": {
        "number": {"type": "integer"},
        "name": _name,
        "mnemonic": _text,
        "kind": {"enum": ["exception", "irq", "syscall", "timer", "ipi", "system", "spurious", "reserved"]},
        "class": {"enum": ["fault", "trap", "abort", "interrupt"]},
        "error_code": {"type": "boolean"},
        "ist": {"type": "integer", "minimum": 0, "maximum": 7},
        "dpl": {"type": "integer", "minimum": 0, "maximum": 3},
        "gate": {"enum": ["interrupt", "trap", "call", "task"]},
        "description": _text,
    },
}

_vectors = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entries"],
    "properties": {
        "description": _text,
        "entries": {"type": "array", "items": _vector},
        "ranges": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "first", "last", "kind"],
                "properties": {
                    "name": _name,
                    "first": {"type": "integer"},
                    "last": {"type": "integer"},
                    "kind": _vector["properties"]["kind"],  # type: ignore[index]
                    "description": _text,
                },
            },
        },
    },
}

_idt = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entries", "kernel_cs", "gate_types", "layouts"],
    "properties": {
        "description": _text,
        "entries": {"type": "integer", "minimum": 1, "maximum": 256},
        "kernel_cs": {"type": "integer", "minimum": 0, "maximum": 0xFFFF},
        "idtr_limit_bits": {"enum": [16]},
        "gate_types": {
            "type": "object",
            "additionalProperties": False,
            "required": ["interrupt", "trap"],
            "properties": {
                k: {"type": "integer", "minimum": 0, "maximum": 31} for k in ("interrupt", "trap", "call", "task")
            },
        },
        "layouts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "mode", "size", "fields", "offset_parts"],
                "properties": {
                    "name": _name,
                    "mode": {"enum": [32, 64]},
                    "size": {"enum": [8, 16]},
                    "description": _text,
                    "offset_parts": {"type": "array", "items": _name, "minItems": 1},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "bits"],
                            "properties": {"name": _name, "bits": _bits, "description": _text},
                        },
                    },
                },
            },
        },
    },
}

_window = {
    "type": "object",
    "additionalProperties": False,
    "required": ["base", "size"],
    "properties": {"base": _uint, "size": {"type": "integer", "minimum": 1}},
}

_platform = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "clock_hz", "cpus", "address_map"],
    "properties": {
        "name": _text,
        "description": _text,
        "clock_hz": {"type": "integer", "minimum": 1, "maximum": _U32_MAX},
        "hz": {"type": "integer", "minimum": 1, "maximum": _U32_MAX},
        "cpus": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["apic_id"],
                "properties": {"apic_id": _uint},
            },
        },
        "address_map": {
            "type": "object",
            "additionalProperties": False,
            "required": ["lapic", "ioapic", "hpet"],
            "properties": {"lapic": _window, "ioapic": _window, "hpet": _window},
        },
        "irq_wiring": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "isa_overrides": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["isa_irq", "pin"],
                        "properties": {"isa_irq": _uint, "pin": _uint},
                    },
                },
                "hpet_legacy": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["timer0", "timer1"],
                    "properties": {"timer0": _uint, "timer1": _uint},
                },
            },
        },
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "irqforge spec file",
    "description": "One of the files of an irqforge spec directory: a device, the vector map, the IDT or the platform.",
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {"device": _device, "vectors": _vectors, "idt": _idt, "platform": _platform},
    "$defs": {
        "enum_value": _enum_value,
        "field": _field,
        "register": _register("offset"),
        "window_register": _register("index"),
    },
}

# which top-level key each file of a spec directory must hold
FILES: dict[str, str] = {
    "idt.yaml": "idt",
    "vectors.yaml": "vectors",
    "lapic.yaml": "device",
    "ioapic.yaml": "device",
    "hpet.yaml": "device",
    "platform.yaml": "platform",
}


def file_schema(key: str) -> dict[str, Any]:
    """The schema of a file that must hold exactly the top-level ``key``
    (``"device"``, ``"vectors"``, ``"idt"`` or ``"platform"``), with every
    ``$ref`` replaced by its definition: validation skips the reference
    lookups, which makes it about a fifth faster."""
    out = {k: v for k, v in SCHEMA.items() if k not in ("$id", "$defs", "minProperties", "maxProperties")}
    out["required"] = [key]
    out["properties"] = {key: _inline(SCHEMA["properties"][key])}
    return out


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]])
        return {k: _inline(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v) for v in node]
    return node
