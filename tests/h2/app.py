"""The WSGI application of the HTTP/2 tests (tests/h2_*.rs), served by `pollux serve --wsgi app
--pythonpath tests/h2`.

Any path, any method: reads the whole request body and answers 200 with `ok METHOD LENGTH
SERVER_PROTOCOL` — what httpwg-cli's cases need (they expect a POST to / to be answered 200).
"""


def application(environ, start_response):
    n = 0
    inp = environ["wsgi.input"]
    while True:
        piece = inp.read(65536)
        if not piece:
            break
        n += len(piece)
    body = ("ok %s %d %s\n" % (environ["REQUEST_METHOD"], n, environ["SERVER_PROTOCOL"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
