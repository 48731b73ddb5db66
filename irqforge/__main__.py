"""``python -m irqforge`` runs the command line."""

from irqforge.cli import main

raise SystemExit(main())
