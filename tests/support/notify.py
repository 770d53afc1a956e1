"""Real delivery endpoints for tests: an SMTP server (aiosmtpd) and an HTTP
receiver standing in for a self-hosted ntfy server (Apprise `ntfy://`), both on
free local ports, and the task worker run the way production runs it.
Imported by tests only."""

import contextlib
import email
import email.policy
import io
import ipaddress
import json
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db import connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    raw: bytes
    received: float  # time.monotonic()
    received_at: float  # time.time(), to compare with task timestamps


class SMTPServer:
    """A real SMTP server that records what it receives. `stop()` takes it
    off the network (connections are refused), `start()` brings it back on
    the same port."""

    def __init__(self):
        self.port = free_port()
        self.mails: list[Mail] = []
        self.arrived = threading.Condition()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        mail = Mail(
            to=list(envelope.rcpt_tos),
            subject=str(message["subject"]),
            body=message.get_content(),
            raw=envelope.original_content,
            received=time.monotonic(),
            received_at=time.time(),
        )
        with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    @property
    def up(self) -> bool:
        return self._controller is not None

    def start(self):
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]

    def recipients(self) -> set[str]:
        return {to for m in self.mails for to in m.to}

    def wait_for(self, predicate, timeout: float = 10.0) -> Mail | None:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = next((m for m in self.mails if predicate(m)), None)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self.arrived.wait(remaining)


@dataclass
class Push:
    path: str
    data: dict
    received: float  # time.monotonic()


@dataclass
class PushReceiver:
    """An HTTP server standing in for a self-hosted ntfy server: Apprise
    `ntfy://` URLs POST a JSON document naming the topic to it; each push is
    recorded under the path /<topic>. With `down` set it answers 503; with
    `redirect_to` set it answers 307 to that URL. On 127.0.0.1, so channels
    to it need OMBUD_PUSH_ALLOW_PRIVATE (the `receiver` fixtures set it)."""

    pushes: list[Push] = field(default_factory=list)
    down: bool = False
    redirect_to: str = ""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                data = json.loads(body)
                path = f"/{data['topic']}" if "topic" in data else self.path
                with receiver.arrived:
                    receiver.pushes.append(Push(path=path, data=data, received=time.monotonic()))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        """An Apprise URL that delivers here under /<name> (the ntfy topic)."""
        return f"ntfy://127.0.0.1:{self.port}/{name}"

    def to(self, name: str) -> list[Push]:
        return [p for p in self.pushes if p.path.rstrip("/") == f"/{name}"]

    def paths(self) -> set[str]:
        return {p.path.strip("/") for p in self.pushes}

    def wait_for(self, predicate, timeout: float = 10.0) -> Push | None:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = next((p for p in self.pushes if predicate(p)), None)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self.arrived.wait(remaining)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def smtp_server(settings):
    """A running SMTP server, with Django's SMTP backend pointed at it."""
    server = SMTPServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


PUBLIC_ADDRESS = "93.184.216.34"


@contextlib.contextmanager
def fake_dns(monkeypatch):
    """socket.getaddrinfo answering from a dict of name -> addresses, which
    the test may change as it goes: no lookup leaves the machine. An IP
    literal resolves to itself (127.0.0.1 may be written 2130706433); any
    other name not in the dict does not resolve."""
    names: dict[str, list[str]] = {
        "ntfy.sh": [PUBLIC_ADDRESS],
        "push.example.org": [PUBLIC_ADDRESS],
    }

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        try:
            addresses = [str(ipaddress.ip_address(int(host) if host.isdigit() else host))]
        except ValueError:
            if not names.get(host):
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = names[host]
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    with monkeypatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield names


@contextlib.contextmanager
def push_receiver():
    receiver = PushReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def run_worker() -> str:
    """Run the task worker once over everything that is due, as
    `manage.py db_worker --batch` does; returns its output. The worker
    installs signal handlers; the test process gets its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    output = io.StringIO()
    try:
        call_command(
            "db_worker", batch=True, startup_delay=False, reload=False, verbosity=1, stdout=output
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return output.getvalue()


@contextlib.contextmanager
def background_worker(interval: float = 1.0):
    """The worker running in a thread, polling every `interval` seconds like
    `manage.py db_worker` (default 1 s), until the block ends."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["default"],
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-background-worker",
        excluded_queue_names=[],
    )

    def run():
        try:
            worker.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.running = False
        thread.join(timeout=interval + 30)
