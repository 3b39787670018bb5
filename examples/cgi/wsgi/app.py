"""A WSGI application on framework.py: `/` says hello, `/ctime` tells the time.

Run it through CGI with `cgi-bin/wsgi.py`, or under any WSGI server:
    python3 -c 'from wsgiref.simple_server import make_server; from app import application; \
                make_server("", 8000, application).serve_forever()'
"""
import time

from framework import Application


def hello(env, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8')])
    return [b'Hello World!\n']


def ctime(env, start_response):
    status = '200 OK'  # the status
    headers = [('Content-Type', 'text/plain; charset=utf-8')]  # the response headers
    start_response(status, headers)  # status and headers go through start_response
    return [time.ctime().encode() + b'\n']  # only the body is returned


application = Application([
    ('/', hello),
    ('/ctime', ctime),
])
