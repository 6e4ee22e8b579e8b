"""A Flask-less web app: serves one page naming six's version and the GREETING config var."""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import six


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "hello from python, six {}, GREETING={}\n".format(
            six.__version__, os.environ.get("GREETING", "")
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Hello).serve_forever()
