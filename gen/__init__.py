"""Emitters (contract §5): Verilog, C headers, docs, SystemRDL, JSON Schema."""
