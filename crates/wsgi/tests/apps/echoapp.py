"""Echoes the request: method, SCRIPT_NAME, PATH_INFO and the body."""


def application(environ, start_response):
    body = environ["wsgi.input"].read()
    text = "%s %r %s %s\n" % (environ["REQUEST_METHOD"], environ["SCRIPT_NAME"], environ["PATH_INFO"],
                              body.decode())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]
