"""What the end-to-end scripts share: calls to the API over HTTP, and the tally of checks."""
import json
import urllib.error
import urllib.request


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, token=None):
        """One request: (status, content type, JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                raw = r.read()
                return r.status, r.headers.get("content-type", ""), json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers.get("content-type", ""), json.loads(raw) if raw else None


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok   ", name)
        else:
            self.failed += 1
            print("FAIL ", name, detail)
