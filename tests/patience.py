"""How long a test waits for one step before it calls the step hung.

Every wait in the suite is on the event it means (a line printed, a worker registered, an answer
heard), so a quiet machine never waits this long; a loaded 2-core machine runs the same steps many
times slower (a LiveKit worker's start took 113 s at load 25, against 10 s quiet), and a slow step
is not a failure. pytest's own per-test limit (pyproject.toml, `timeout`) stays above it.
"""

PATIENCE_S = 240.0
