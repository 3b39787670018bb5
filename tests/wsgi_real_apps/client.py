"""One HTTP request with Python's own client (http.client, standard library only), for
tests/wsgi_real_apps.rs: what a Python program talking to the server sees.

    client.py METHOD URL [-H 'Name: value']... [--data TEXT | --data-file PATH | --json TEXT
              | --form NAME=VALUE... | --multipart FIELD=PATH]

Prints one JSON object on stdout:
    status, reason, version       the status line
    headers                       [[name, value], ...] in order, as http.client parsed them
    body_hex                      the whole body (chunked coding removed), in hex
    chunks                        [[ms, bytes], ...]: when each read1() returned (ms after the
                                  head arrived) and how much it brought
"""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse
import uuid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('method')
    ap.add_argument('url')
    ap.add_argument('-H', dest='headers', action='append', default=[])
    ap.add_argument('--data')
    ap.add_argument('--data-file')
    ap.add_argument('--json')
    ap.add_argument('--form', action='append', default=[])
    ap.add_argument('--multipart')
    ap.add_argument('--timeout', type=float, default=20.0)
    a = ap.parse_args()

    url = urllib.parse.urlsplit(a.url)
    assert url.scheme == 'http', url
    target = url.path or '/'
    if url.query:
        target += '?' + url.query

    headers = {}
    for h in a.headers:
        name, _, value = h.partition(':')
        headers[name.strip()] = value.strip()

    body = None
    if a.data is not None:
        body = a.data.encode('utf-8')
    elif a.data_file is not None:
        with open(a.data_file, 'rb') as f:
            body = f.read()
    elif a.json is not None:
        body = a.json.encode('utf-8')
        headers.setdefault('Content-Type', 'application/json')
    elif a.form:
        pairs = [tuple(f.split('=', 1)) for f in a.form]
        body = urllib.parse.urlencode(pairs).encode('ascii')  # UTF-8, percent-encoded
        headers.setdefault('Content-Type', 'application/x-www-form-urlencoded')
    elif a.multipart is not None:
        field, _, path = a.multipart.partition('=')
        with open(path, 'rb') as f:
            data = f.read()
        boundary = 'pollux-' + uuid.uuid4().hex
        name = os.path.basename(path)
        body = (
            f'--{boundary}\r\n'
            f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f'Content-Type: application/octet-stream\r\n\r\n'
        ).encode('utf-8') + data + f'\r\n--{boundary}--\r\n'.encode('ascii')
        headers['Content-Type'] = f'multipart/form-data; boundary={boundary}'

    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=a.timeout)
    conn.request(a.method, target, body=body, headers=headers)
    resp = conn.getresponse()
    t0 = time.monotonic()
    chunks = []
    parts = []
    while True:
        part = resp.read1(65536)
        if not part:
            break
        chunks.append([round((time.monotonic() - t0) * 1000, 1), len(part)])
        parts.append(part)
    conn.close()
    json.dump({
        'status': resp.status,
        'reason': resp.reason,
        'version': resp.version,
        'headers': [[n, v] for n, v in resp.getheaders()],
        'body_hex': b''.join(parts).hex(),
        'chunks': chunks,
    }, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
