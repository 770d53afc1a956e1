"""A real IMAP server for the mail intake tests: Dovecot (Debian's
dovecot-imapd, installed by .ci/run), started once per test session on free
local ports with its own configuration, a self-signed certificate for TLS and
one mailbox. If it cannot start, the tests that need it fail: they are never
skipped."""

import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test import override_settings
from imap_tools import MailBox

from conftest import kept, people_create
from tests.support.notify import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "team@example.org"
PASSWORD = "imap-test-password"


@dataclass
class Dovecot:
    host: str
    tls_port: int  # implicit TLS (imaps)
    plain_port: int  # plain text, or STARTTLS
    user: str
    password: str
    ca_file: str  # the server's self-signed certificate
    log: Path

    def box(self) -> MailBox:
        context = ssl.create_default_context(cafile=self.ca_file)
        return MailBox(self.host, self.tls_port, ssl_context=context).login(
            self.user, self.password
        )

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.box() as box:
            box.append(raw, folder)

    def subjects(self, folder: str = "INBOX") -> list[str]:
        """The subjects of the messages in `folder`, oldest first."""
        with self.box() as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder)
            return [m.subject for m in box.fetch(mark_seen=False)]

    def empty(self) -> None:
        with self.box() as box:
            box.delete(box.uids())
            for folder in box.folder.list():
                if folder.name != "INBOX":
                    box.folder.delete(folder.name)

    def env(self, security: str = "tls") -> dict:
        """The settings for this server, as environment variables."""
        return {
            "OMBUD_MAIL_INTAKE": "imap",
            "OMBUD_IMAP_HOST": self.host,
            "OMBUD_IMAP_PORT": str(self.tls_port if security == "tls" else self.plain_port),
            "OMBUD_IMAP_SECURITY": security,
            "OMBUD_IMAP_USER": self.user,
            "OMBUD_IMAP_PASSWORD": self.password,
            "OMBUD_IMAP_CA_FILE": self.ca_file,
        }


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _config(directory: Path, tls_port: int, plain_port: int) -> Path:
    cert, key = _certificate(directory)
    home = directory / "home"
    home.mkdir()
    if os.getuid() == 0:
        # Dovecot runs nothing as root but its master: logins as dovenull, and
        # mail as its own user, who must own the mail home.
        login_user, internal_user = "dovenull", "root"
        mail_user = pwd.getpwnam("dovecot")
        os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
        directory.chmod(0o711)
    else:
        login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        mail_user = pwd.getpwuid(os.getuid())
    users = directory / "users"
    users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = directory / "dovecot.conf"
    conf.write_text(f"""\
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
}}
# No delay after the wrong-password test (anvil's authentication penalty).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
""")
    return conf


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def dovecot_server():
    # Not under pytest's tmp_path: its directories are private to this user,
    # and Dovecot's unprivileged processes must reach the mail home.
    directory = Path(tempfile.mkdtemp(prefix="ombud-dovecot-"))
    tls_port, plain_port = free_port(), free_port()
    log = directory / "dovecot.log"
    process = None
    try:
        conf = _config(directory, tls_port, plain_port)
        process = subprocess.Popen(  # noqa: S603 - our own config, a fixed binary
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while not (_listening(tls_port) and _listening(plain_port)):
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                logged = log.read_text(errors="replace") if log.exists() else ""
                pytest.fail(f"Dovecot did not start ({DOVECOT}):\n{output}\n{logged}")
            time.sleep(0.05)
        yield Dovecot(
            "127.0.0.1", tls_port, plain_port, USER, PASSWORD, str(directory / "cert.pem"), log
        )
    except (OSError, KeyError) as e:
        pytest.fail(f"Dovecot could not be set up ({DOVECOT}): {e!r}")
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server):
    """The Dovecot server with an empty mailbox."""
    dovecot_server.empty()
    return dovecot_server


@pytest.fixture
def imap_settings(settings, dovecot):
    """Ombud's settings pointed at the Dovecot mailbox, over TLS."""
    for name, value in dovecot.env().items():
        setattr(settings, name, int(value) if name.endswith("PORT") else value)
    settings.OMBUD_IMAP_FOLDER = "INBOX"
    settings.OMBUD_IMAP_QUARANTINE_FOLDER = "Quarantine"
    return settings


@pytest.fixture
def team(people):
    """Org A's event takes mail at the Dovecot mailbox's address."""
    people.event_a.team_email = USER
    people.event_a.save()
    return people


def subprocess_env(**extra: str) -> dict:
    """The environment for `manage.py` in a process of its own, working on the
    test database (tests that use it need `transaction=True`)."""
    env = {**os.environ, **extra}
    # Production refuses mail kept for tests and a pepper beside the SQLite
    # database (ombud.lib.checks); the test database is both.
    env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    env.setdefault("OMBUD_PEPPER_BESIDE_DATABASE", "1")
    database = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = database
    else:
        url = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + database))
    return env


# --- a world of cases made by mail (test_mail_corpus, test_mail_routing) ---------------

TEAM_A = "team@a.example"
TEAM_B = "team@b.example"
SENDER = "robin@example.net"


def case_open(case, kit):
    """Decrypt a case with the organisation's recovery kit (k trustees' shares),
    as the trustees together can."""
    from ombud.cases.services.keys import case_content_decrypt
    from ombud.cases.services.recovery import kit_private_key
    from ombud.lib import crypto

    case.refresh_from_db()
    private_key = kit_private_key(organisation=case.organisation, kit_text=kit).private_key
    data_key = crypto.data_key_unseal(private_key, case.recovery_wrap)
    return case_content_decrypt(case=case, data_key=data_key)


def auto_replies(to: str, after: int = 0) -> list[dict]:
    from ombud.notify.models import OutboxMessage
    from ombud.notify.sealing import outbox_open

    return [
        outbox_open(m)
        for m in OutboxMessage.objects.filter(pk__gt=after, kind=OutboxMessage.Kind.EMAIL)
        if outbox_open(m)["to"] == to and "was received" in outbox_open(m)["subject"]
    ]


def mail_case(address: str, sender: str, n: str) -> dict:
    """A case made by mail, with what its auto-reply told the sender."""
    from ombud.cases.models import Case
    from ombud.intake.mailin import mail_receive

    raw = (
        f"From: {sender}\nTo: {address}\nSubject: Report {n}\nMessage-ID: <seed-{n}@example.net>\n"
        f"\nSeed report {n}.\n"
    ).encode()
    outcome = mail_receive(raw)
    assert outcome.outcome == "case"
    [reply] = auto_replies(sender)[-1:]
    tag = reply["subject"].rsplit("[#", 1)[1].rstrip("]")
    receipt = reply["body"].split("Your receipt:\n\n    ", 1)[1].split("\n", 1)[0]
    return {
        "case": Case.objects.get(pk=outcome.case_id),
        "tag": tag,
        "msgid": reply["headers"]["Message-ID"],
        "receipt": receipt,
    }


FROM = "Ombud <ombud@ombud.example>"


@pytest.fixture
def world(kept_mail_world, db, settings):
    """Org A and B take mail; org A has two cases made by mail, org B one.
    Built once (`world_build`), rolled back after each test."""
    settings.DEFAULT_FROM_EMAIL = FROM
    return kept_mail_world.copy()


@pytest.fixture(scope="module")
def kept_mail_world(request):
    with kept(request, world_build) as keeper:
        yield keeper


@override_settings(DEFAULT_FROM_EMAIL=FROM)
def world_build():
    people = people_create()
    people.event_a.team_email = TEAM_A
    people.event_a.save()
    people.event_b.team_email = TEAM_B
    people.event_b.save()
    people.first = mail_case(TEAM_A, "first@example.net", "1")
    people.second = mail_case(TEAM_A, "second@example.net", "2")
    people.in_b = mail_case(TEAM_B, "third@example.net", "3")
    return people


class FakeReceive:
    """Stands in for `mail_receive` in the transport tests: records each call
    and answers `answer` (or raises it, if it is an exception)."""

    def __init__(self):
        from ombud.intake.mailin import MailOutcome

        self.calls = []
        self.answer = MailOutcome(outcome="case", case_id=1)

    def __call__(self, raw, *, envelope_recipients=None):
        self.calls.append((raw, envelope_recipients))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer
