"""Entry point: ``python -m bench.stress`` (``make stress``)."""

from bench.stress._main import main

raise SystemExit(main())
