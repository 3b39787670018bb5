"""A WSGI app whose every request takes a while (tests/ops_metrics.rs counts them in flight
and queued)."""
import time


def application(environ, start_response):
    time.sleep(4)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slow\n"]
