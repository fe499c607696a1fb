"""Entry point: ``python -m bench`` (``make bench``)."""

from bench._main import main

raise SystemExit(main())
