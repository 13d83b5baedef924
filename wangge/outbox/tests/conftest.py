"""A real HTTP gateway on 127.0.0.1 (a free port), standing in for an SMS gateway or an IM robot: it records each
request and answers from a script (e.g. 500 then 200)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PHONE = "13812345678"
SMS_KEY = "test-sms-key-3f9a"


class Gateway:
    def __init__(self):
        self.requests = []
        self.answers = []  # (status, body) pairs, used in order; afterwards `default`
        self.default = (200, {"ok": True})
        self.delay = 0.0
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, *answers):
        """Each answer is a status code or a (status, JSON body) pair."""
        self.answers.extend(a if isinstance(a, tuple) else (a, {"status": a}) for a in answers)

    def bodies(self, path=None):
        return [r["json"] for r in self.requests if path is None or r["path"] == path]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        gateway = self.server.gateway
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with gateway.lock:
            gateway.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)})
            status, body = gateway.answers.pop(0) if gateway.answers else gateway.default
        if gateway.delay:
            threading.Event().wait(gateway.delay)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # quiet: the test reads `requests`
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.gateway = Gateway()
    server.gateway.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def channel_config(gateway, *, capture=False, **overrides):
    config = {
        "sms": {"class": "wangge.outbox.channels.SmsChannel", "url": f"{gateway.url}/sms", "key_env": "TEST_SMS_KEY",
                "prefix": "【网格】", "max_attempts": 3, "backoff_seconds": 60},
        "im_webhook": {"class": "wangge.outbox.channels.ImWebhookChannel", "url": f"{gateway.url}/im"},
    }
    if capture:
        config["capture"] = {"class": "wangge.outbox.channels.CaptureChannel"}
    for name, options in overrides.items():
        config[name] = {**config.get(name, {}), **options}
    return config


@pytest.fixture
def configured(settings, gateway, monkeypatch):
    """SMS and IM webhook pointed at the local gateway (no capture)."""
    monkeypatch.setenv("TEST_SMS_KEY", SMS_KEY)
    settings.OUTBOX_CHANNELS = channel_config(gateway)
    return settings.OUTBOX_CHANNELS


def add_phone(user, phone=PHONE):
    from wangge.outbox import services

    return services.do_add_address(actor=user, channel="sms", address=phone)
