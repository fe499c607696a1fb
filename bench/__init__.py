"""``python -m bench``: understudy side by side with the servers a user would pick instead.

Measured in one run, on loopback only: (a) start → one GET → stop cycles, also with a 10 ms test
body; (b) ``stop()`` with an idle keep-alive client; (c) throughput under 50 keep-alive connections
from wrk in another process; (d) RSS and threads per idle server. See ``bench/README.md``.
"""
