"""A module that cannot be imported: the server must print this traceback and stop."""
import this_module_does_not_exist_anywhere  # noqa: F401


def application(environ, start_response):
    start_response("200 OK", [])
    return [b"never\n"]
