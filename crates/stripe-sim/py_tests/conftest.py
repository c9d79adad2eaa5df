"""Start the stripe-sim binary on a free loopback port for the session and point the official
`stripe` library at it.

The binary comes from env STRIPE_SIM_BIN, else target/debug/stripe-sim at the repository root
(build it first: `cargo build -p stripe-sim`).
"""

import http.server
import os
import pathlib
import subprocess
import tempfile
import threading
import time

import pytest
import stripe

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
API_KEY = "sk_test_stripe_sim"


def _binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("STRIPE_SIM_BIN", REPO_ROOT / "target/debug/stripe-sim"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(f"stripe-sim binary not found at {path}: run `cargo build -p stripe-sim` first")
    return path


@pytest.fixture(scope="session")
def sim_url():
    """Base URL of a stand-in started for this session (stopped afterwards)."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [
            str(_binary()),
            "--port", "0",
            "--webhook-retry-base-ms", "50",
            "--webhook-attempts", "4",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        base_url = None
        deadline = time.monotonic() + 10
        while base_url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on " in line:
                base_url = line.strip().split("listening on ", 1)[1]
        if base_url is None:
            log.seek(0)
            pytest.fail(f"stripe-sim did not start: {log.read().decode(errors='replace')}")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()


@pytest.fixture(autouse=True)
def stripe_client(sim_url):
    """Configure the module-level `stripe` library for the stand-in."""
    stripe.api_base = sim_url
    stripe.api_key = API_KEY
    yield stripe


class Receiver:
    """A webhook receiver on a loopback port that records every POST."""

    def __init__(self):
        self.requests = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver._cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n, timeout=5.0):
        with self._cond:
            self._cond.wait_for(lambda: len(self.requests) >= n, timeout=timeout)
            return list(self.requests)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
