"""A web app on the standard library alone: serves one page naming the interpreter running it
and the GREETING config var."""
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "hello from the stdlib, python {}, GREETING={}\n".format(
            sys.executable, os.environ.get("GREETING", "")
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Hello).serve_forever()
