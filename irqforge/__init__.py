"""irqforge: x86 interrupt and timer hardware from declarative specs.

Subpackages: :mod:`irqforge.spec` (spec language), :mod:`irqforge.gen`
(emitters), :mod:`irqforge.hw` (Amaranth RTL), :mod:`irqforge.sim`
(reference models, simulator backends, benches) and :mod:`irqforge.sw`
(the Linux-like software stack).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
