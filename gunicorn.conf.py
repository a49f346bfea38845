"""Gunicorn settings for the web process; gunicorn reads this file from its working directory.

- Threaded workers keep connections alive (gateways call the decisions API many times a second,
  and a new TCP connection per call costs more than the decision) and overlap the waits on
  PostgreSQL; the number of processes comes from `--workers` or WEB_CONCURRENCY (compose: 3,
  which measured best on two cores: docs/benchmarks.md).
"""

worker_class = "gthread"
threads = 8
keepalive = 5  # seconds an idle client connection stays open
graceful_timeout = 30
