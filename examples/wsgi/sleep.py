"""An I/O-bound WSGI application: each request waits 10 ms (time.sleep releases the GIL), then
answers a short body. bench/wsgi.sh's `sleep` scenario drives it with 512 connections against
servers running 512 Python threads, so throughput measures how well waiting requests overlap.

    pollux serve --wsgi sleep --pythonpath examples/wsgi --wsgi-threads 512
"""
import time

BODY = b'slept 10 ms\n'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    time.sleep(0.01)
    start_response('200 OK', HEADERS)
    return [BODY]
