"""Runnable examples of understudy: ``python -m examples.demo`` (or ``make demo``).

Each ``examples/<protocol>_<host>.py`` module is one section of the demo: it starts understudy
servers, points real clients at them, and reports what each side saw. ``examples/demo.py`` lists
the sections in order.
"""
