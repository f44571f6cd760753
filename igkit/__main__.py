"""``python -m igkit`` is the ``igkit`` command."""

from igkit.cli import main

raise SystemExit(main())
