"""Apply each deliberate RTL mutation and check that ``irqforge regress`` catches it.

Usage: ``.venv/bin/python scripts/mutation_test.py [--quick] [--cycles N] [--only NAME,...]``;
the mutations and how they are applied: :mod:`irqforge.sim.regress.mutations`.
"""

import sys

from irqforge.sim.regress.mutations import main

if __name__ == "__main__":
    sys.exit(main())
