"""``python -m understudy``: the same as the ``understudy`` command."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
