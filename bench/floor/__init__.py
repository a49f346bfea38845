"""Django's own floor for the decisions API: a bare application served and loaded like the API.

No installed apps, no middleware, one view: it parses the same JSON body, reads the caller's API
key by its prefix and inserts one decision log line, the two statements an allowed decision makes,
on the same tables of the benchmark database. bench/bench_decisions_api.py serves it with the
same gunicorn settings and drives it with the same wrk load, in the same run as the API, and
reports the API's throughput as a share of it.
"""
