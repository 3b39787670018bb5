"""The WSGI application of the HTTP/2 tests (tests/h2_*.rs), served by `pollux serve --wsgi app
--pythonpath tests/h2`.

- `/echo?size=N&i=K`: 200 with an `x-echo` response field of N characters that differ with K,
  so that each answer gives the server's HPACK encoder a new entry to index.
- anything else, any method: reads the whole request body and answers 200 with
  `ok METHOD LENGTH SERVER_PROTOCOL` (what httpwg-cli's cases need: a POST to / that is 200).
"""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        q = dict(p.partition("=")[::2] for p in environ.get("QUERY_STRING", "").split("&") if p)
        size = min(int(q.get("size", "100")), 16384)
        seed = q.get("i", "0") + "-"
        value = (seed * (size // len(seed) + 1))[:size]
        body = b"echo\n"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                  ("X-Echo", value)])
        return [body]
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
