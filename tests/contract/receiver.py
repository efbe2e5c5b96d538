#!/usr/bin/env python3
"""A webhook endpoint for the Postman story (scripts/contract.sh starts it): answers every POST
with 204 and prints the event's `webhook-id` and type. Usage: receiver.py PORT"""
import http.server
import json
import sys


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            kind = json.loads(body).get("type")
        except ValueError:
            kind = "?"
        print(f"webhook {self.headers.get('webhook-id')} {kind}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
