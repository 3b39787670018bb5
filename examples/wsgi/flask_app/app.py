"""A small Flask application exercising what a WSGI server must carry: HTML, JSON in and out,
urlencoded and multipart forms, send_file, a streamed (generator) response and Flask's own
static route.

    pollux serve --wsgi app --pythonpath examples/wsgi/flask_app      # Flask installed in $VIRTUAL_ENV

Routes:
    GET  /                  a short HTML page
    GET  /api/items         the items, as a JSON list
    POST /api/items         a JSON object {"name": ...} becomes an item: 201 and the item as JSON
    GET  /form              an HTML form
    POST /form              the urlencoded fields echoed back as text/plain (UTF-8)
    POST /upload            multipart field `file`: JSON with its filename, size and sha256
    GET  /download/<name>   a file from files/ beside this module (send_file)
    GET  /stream            five lines `line N`, 0.1 s apart, streamed as they are produced
    GET  /static/style.css  Flask's static folder
"""
import hashlib
import os
import threading
import time

from flask import Flask, Response, jsonify, request, send_from_directory

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, 'files')

app = Flask(__name__, static_folder=os.path.join(HERE, 'static'), static_url_path='/static')

_lock = threading.Lock()
_items = [{'id': 1, 'name': 'first item'}, {'id': 2, 'name': 'second item'}]

INDEX = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Flask on pollux</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1>Hello from Flask!</h1>
<p>Try <a href="/api/items">/api/items</a>, <a href="/form">/form</a>,
<a href="/download/notes.txt">/download/notes.txt</a> or <a href="/stream">/stream</a>.</p>
</body>
</html>
"""

FORM = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>A form</title></head>
<body>
<form method="post" action="/form">
  <label>Name <input name="name"></label>
  <label>Comment <input name="comment"></label>
  <button>Send</button>
</form>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file"> <button>Upload</button>
</form>
</body>
</html>
"""


@app.get('/')
def index():
    return INDEX


@app.get('/api/items')
def list_items():
    with _lock:
        return jsonify(list(_items))


@app.post('/api/items')
def create_item():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get('name'), str) or not data['name']:
        return jsonify(error='expected a JSON object with a non-empty "name"'), 400
    with _lock:
        item = {'id': max((i['id'] for i in _items), default=0) + 1, 'name': data['name']}
        _items.append(item)
    return jsonify(item), 201


@app.route('/form', methods=['GET', 'POST'])
def form():
    if request.method == 'GET':
        return FORM
    lines = [f'{key}={value}' for key, values in request.form.lists() for value in values]
    body = '\n'.join(lines) + '\n'
    return Response(body, mimetype='text/plain')  # Flask adds charset=utf-8


@app.post('/upload')
def upload():
    f = request.files.get('file')
    if f is None:
        return jsonify(error='expected a multipart field named "file"'), 400
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = f.stream.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        digest.update(chunk)
    return jsonify(filename=f.filename, size=size, sha256=digest.hexdigest())


@app.get('/download/<name>')
def download(name):
    # send_from_directory refuses names that leave FILES (../, absolute paths): 404.
    return send_from_directory(FILES, name, as_attachment=True)


@app.get('/stream')
def stream():
    def generate():
        for n in range(1, 6):
            yield f'line {n}\n'
            if n < 5:
                time.sleep(0.1)

    return Response(generate(), mimetype='text/plain')


@app.errorhandler(404)
def not_found(_error):
    return Response('not found\n', status=404, mimetype='text/plain')


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=5000)
