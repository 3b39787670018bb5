"""The plainest WSGI application: one fixed 13-byte answer (bench/wsgi.sh's `hello` scenario).

    pollux serve --wsgi hello --pythonpath examples/wsgi
"""

BODY = b'Hello World!\n'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    start_response('200 OK', HEADERS)
    return [BODY]
