"""A small web framework, in Python 3: a routing table of (path, handler) pairs.

The fixed parts live here; an application supplies the routes. Any WSGI server can run it:
`application(environ, start_response)` returns an iterable of bytes (PEP 3333).
"""


class Application(object):
    """The framework's main part: look the path up in the routing table."""

    def __init__(self, urls):
        self.urls = urls  # the routing table

    def __call__(self, env, start_response):
        # Under CGI, `/cgi-bin/wsgi.py` alone has an empty PATH_INFO: that is the root.
        path = env.get('PATH_INFO') or '/'
        for url, handler in self.urls:
            if path == url:
                return handler(env, start_response)
        # No route: 404.
        status = '404 Not Found'
        headers = [('Content-Type', 'text/plain; charset=utf-8')]
        start_response(status, headers)
        return [b'not found\n']
