"""An application that imports signal and sets handlers at import time, as some libraries do:
the server's SIGTERM handling must still work."""
import signal
import time

try:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
except ValueError:
    pass  # not in the main thread: nothing was taken


def application(environ, start_response):
    ms = int(environ.get("QUERY_STRING", "ms=0").split("=")[-1] or 0)
    time.sleep(ms / 1000)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
