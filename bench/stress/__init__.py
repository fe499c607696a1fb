"""``make stress``: reliability figures, measured the same way each time (issue 9).

Leaks over start → request → stop cycles per server kind, stop() under load, hostile clients,
fuzzing and processes; each figure is printed with its target and MET/MISSED, and written to
``bench/results/stress.json``. Loopback only; every loop is bounded in count and in time.
"""
