"""An application that takes SIGTERM and SIGINT for itself at import time, as some libraries
do: the server's graceful shutdown must still work. /inflight tells how many requests are
inside the application right now; any other path sleeps ?ms=N milliseconds first."""
import os
import signal
import threading
import time

try:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
except ValueError:
    pass  # not the main thread: nothing to take

_lock = threading.Lock()
inflight = 0


def application(environ, start_response):
    global inflight
    if environ["PATH_INFO"] == "/inflight":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d\n" % inflight]
    if environ["PATH_INFO"] == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d\n" % os.getpid()]
    with _lock:
        inflight += 1
    try:
        ms = int(environ.get("QUERY_STRING", "ms=0").split("=")[-1] or 0)
        time.sleep(ms / 1000)
    finally:
        with _lock:
            inflight -= 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
