"""Requests through the WSGI application in this process, exactly as gunicorn calls it
(middleware, URL routing, request signals and their connection health check), without HTTP:
for counting queries and for profiling."""

import io
from urllib.parse import urlsplit

from django.core.handlers.wsgi import WSGIHandler


class WsgiClient:
    def __init__(self, token: str) -> None:
        self.handler = WSGIHandler()
        self.token = token

    def _call(self, method: str, path: str, body: bytes, content_type: str) -> int:
        url = urlsplit(path)
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        response = self.handler(environ, lambda code, headers, exc_info=None: status.append(code))
        try:
            for _ in response:
                pass
        finally:
            response.close()  # request_finished: connections are checked as after a request
        return int(status[0].split()[0])

    def get(self, path: str) -> int:
        return self._call("GET", path, b"", "")

    def post_json(self, path: str, body: bytes) -> int:
        return self._call("POST", path, body, "application/json")
