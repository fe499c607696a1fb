"""Sans-IO pieces of understudy: plain functions and classes from bytes to values.

Nothing in this package imports socket, threading, selectors or asyncio, nor anything else of
understudy (a test enforces it), so everything here is tested with tables and Hypothesis alone.
"""
