#!/usr/bin/env python3
"""A form handler: GET shows the form, POST (application/x-www-form-urlencoded) echoes it."""
import html
import os
import sys
from urllib.parse import parse_qsl


def page(body):
    sys.stdout.write('Content-Type: text/html; charset=utf-8\r\n\r\n')
    sys.stdout.write('<!doctype html>\n<title>form</title>\n' + body)


method = os.environ.get('REQUEST_METHOD', 'GET')
if method == 'POST':
    if not os.environ.get('CONTENT_TYPE', '').startswith('application/x-www-form-urlencoded'):
        sys.stdout.write('Status: 415 Unsupported Media Type\r\nContent-Type: text/plain\r\n\r\n'
                         'send application/x-www-form-urlencoded\n')
        sys.exit(0)
    length = int(os.environ.get('CONTENT_LENGTH') or 0)
    fields = parse_qsl(sys.stdin.buffer.read(length).decode('utf-8', 'replace'), keep_blank_values=True)
    items = ''.join('<li>{}={}</li>\n'.format(html.escape(k), html.escape(v)) for k, v in fields)
    page('<ul>\n' + items + '</ul>\n')
elif method in ('GET', 'HEAD'):
    query = parse_qsl(os.environ.get('QUERY_STRING', ''), keep_blank_values=True)
    name = html.escape(dict(query).get('name', ''))
    page('<form method="post">\n<input name="name" value="{}">\n<input name="comment">\n'
         '<button>send</button>\n</form>\n'.format(name))
else:
    sys.stdout.write('Status: 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\n'
                     'Content-Type: text/plain\r\n\r\n')
