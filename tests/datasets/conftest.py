"""Fixtures: a local HTTP server (Range, 404, cut-off transfers); no shared data dir."""

from __future__ import annotations

import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# The tiny study's helpers (run a study folder with the repository's Snakefile) are shared
# with the fault suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        range_header = self.headers.get("Range")
        server.requests.append((self.path, range_header))
        if self.path in server.unavailable_once:
            server.unavailable_once.discard(self.path)
            self.send_error(503, "Service Unavailable")
            return
        if self.path in server.stall_once:
            # Answer nothing for longer than the client's timeout.
            server.stall_once.discard(self.path)
            time.sleep(server.stall_seconds)
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and self.path not in server.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", range_header)[1])
            if start >= len(body):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in server.cut_once:
            # Promise the whole body, deliver half, hang up: a transfer cut mid-way.
            server.cut_once.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def http_server():
    """A server on 127.0.0.1 with an ephemeral port.

    ``server.files`` maps URL paths to bytes, ``server.cut_once`` holds paths whose next
    transfer is cut half-way, ``unavailable_once`` paths answer 503 once, ``stall_once``
    paths answer nothing for ``stall_seconds`` once, ``ignore_range`` paths always send
    the whole file, ``server.requests`` records (path, Range header) per GET,
    ``server.url(path)`` builds a URL.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.cut_once, server.requests = {}, set(), []
    server.unavailable_once, server.stall_once, server.stall_seconds = set(), set(), 1.0
    server.ignore_range = set()
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_shared_data_dir(monkeypatch):
    """Tests decide their sources themselves: a user's $NNSTUDY_DATA_DIR must not leak in."""
    monkeypatch.delenv("NNSTUDY_DATA_DIR", raising=False)
