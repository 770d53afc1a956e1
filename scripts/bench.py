"""`make bench`: numbers for the costs a user feels. Prints, asserts nothing.

Runs against a throw-away SQLite database in a temporary directory."""

import base64
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

tmp = tempfile.mkdtemp(prefix="ombud-bench-")
os.environ.setdefault("OMBUD_VAR_DIR", tmp)
os.environ["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ombud.settings")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
# The reset page is timed many times from one address.
os.environ["OMBUD_RESET_TRIES_PER_IP"] = os.environ["OMBUD_RESET_TRIES_PER_EMAIL"] = "100000"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()
for quiet in ("ombud", "axes"):  # a line per mail and per failed login otherwise
    logging.getLogger(quiet).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", "No directory at", UserWarning)  # whitenoise, no collectstatic

from django.core.management import call_command  # noqa: E402

from ombud.accounts.services import user_create, user_private_key_unlock  # noqa: E402
from ombud.cases.models import Case  # noqa: E402
from ombud.cases.services import rotation  # noqa: E402
from ombud.cases.services.keys import case_content_read  # noqa: E402
from ombud.cases.services.submit import case_submit  # noqa: E402
from ombud.intake.mailin import mail_receive  # noqa: E402
from ombud.lib import crypto  # noqa: E402
from ombud.orgs.services import organisation_create  # noqa: E402


def timed(label, fn, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples) * 1000
    p95 = sorted(samples)[int(0.95 * (n - 1))] * 1000
    print(f"{label:<55} median {median:8.2f} ms   p95 {p95:8.2f} ms   (n={n})")


call_command("migrate", verbosity=0)
password = "bench password long enough"  # noqa: S105 - throw-away bench accounts
chair = user_create(email="chair@bench.example", password=password)
responders = [user_create(email=f"r{i}@bench.example", password=password) for i in range(9)]
org_new = organisation_create(name="Bench", slug="bench", chair=chair, responders=responders)
# The recovery kit is split 2 of 10: two trustees' shares entered together.
org, kit = org_new.organisation, "\n".join(share.text for share in org_new.shares[:2])
event = org.events.get()
content = {"description": "x" * 20_000, "location": "Hall", "reported_name": "Someone"}
private_key = user_private_key_unlock(user=chair, password=password)

key = crypto.data_key_new()
blob = crypto.field_encrypt(key, b"x" * 20_000, case_id="c", field="f")
print(f"Ombud benchmarks (Argon2id cost {crypto.Argon2Params.current().as_dict()})")
timed(
    "unlock private key at login (Argon2id)",
    lambda: user_private_key_unlock(user=chair, password=password),
    5,
)
timed(
    "encrypt 20 kB field",
    lambda: crypto.field_encrypt(key, b"x" * 20_000, case_id="c", field="f"),
    200,
)
timed("decrypt 20 kB field", lambda: crypto.field_decrypt(key, blob, case_id="c", field="f"), 200)
timed(
    "submit report, 10 responders (incl. commit)",
    lambda: case_submit(event=event, content=content),
    50,
)
case = Case.objects.first()
timed(
    "read report as responder (incl. audit)",
    lambda: case_content_read(actor=chair, case=case, private_key=private_key),
    50,
)


# --- email intake -------------------------------------------------------------------
event.team_email = "team@bench.example"
event.save()
mails = iter(range(10**6))


def mail(attachment: bytes = b"") -> bytes:
    n = next(mails)
    head = (
        f"From: r{n}@example.net\r\nTo: team@bench.example\r\nSubject: Report {n}\r\n"
        f"Message-ID: <bench-{n}@example.net>\r\nMIME-Version: 1.0\r\n"
    )
    if not attachment:
        return (head + "\r\n" + "It happened by the stage. " * 40 + "\r\n").encode()
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nThe photo is attached.\r\n--b\r\n"
        "Content-Type: image/png\r\nContent-Disposition: attachment; filename=p.png\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--b--\r\n"
    ).encode()


photo = b"\x89PNG\r\n\x1a\n" + os.urandom(8 * 1024 * 1024)
timed("mail to the team address -> case (text, 1 kB)", lambda: mail_receive(mail()), 30)
timed("mail with an 8 MB attachment -> case", lambda: mail_receive(mail(photo)), 3)
same = mail()
mail_receive(same)
timed("the same Message-ID again (duplicate)", lambda: mail_receive(same), 30)

# --- recovery-key rotation over 10,000 cases ---------------------------------------
template = Case.objects.filter(organisation=org).first()
fields = [f.attname for f in Case._meta.concrete_fields if f.attname != "id"]
last = Case.objects.filter(organisation=org).order_by("-number").first().number
rows = []
for number in range(last + 1, 10_001):
    row = Case(**{name: getattr(template, name) for name in fields})
    row.number = number
    row.receipt_lookup = None
    row.mail_tag_lookup = None
    row.recovery_wrap = crypto.data_key_seal(org.recovery_public_key, crypto.data_key_new())
    rows.append(row)
Case.objects.bulk_create(rows, batch_size=1000)
cases = Case.objects.filter(organisation=org).count()
started = time.perf_counter()
result = rotation.recovery_rotate(actor=chair, organisation=org, kit_text=kit)
while not result.new_shares:  # a request works for a limited time, then resumes
    result = rotation.recovery_rotate(actor=chair, organisation=org, kit_text=kit)
elapsed = time.perf_counter() - started
print(f"{'rotate the recovery key over ' + format(cases, ',') + ' cases':<55} {elapsed:8.2f} s")

# --- password reset: an address with an account and one without -------------------
from django.contrib.auth.hashers import get_hasher  # noqa: E402
from django.test import Client  # noqa: E402

client = Client(HTTP_HOST="127.0.0.1")
answer = client.post("/accounts/password/reset/", {"email": "r1@bench.example"}, secure=True)
assert answer.status_code == 302, answer.status_code
for label, address in (("with", "r1@bench.example"), ("without", "nobody@bench.example")):
    timed(
        f"password reset request, address {label} an account",
        lambda address=address: client.post(
            "/accounts/password/reset/", {"email": address}, secure=True
        ),
        40,
    )

# --- login: the password's hash and the private key's, both Argon2id at OMBUD_ARGON2 -----
hasher = get_hasher()
print(
    f"password hash: Argon2id t={hasher.time_cost}, m={hasher.memory_cost} KiB, "
    f"p={hasher.parallelism} (the goal: a login under 800 ms)"
)
logins = iter(range(10**6))


def login():
    response = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR=f"198.51.100.{next(logins) % 250}").post(
        "/accounts/login/", {"username": "r3@bench.example", "password": password}, secure=True
    )
    assert response.status_code == 302, response.status_code


timed("login (check the password, unlock the private key)", login, 10)

# --- login with a wrong password: an account that exists and one that does not ---------
for label, address in (("existing", "r2@bench.example"), ("unknown", "nobody@bench.example")):
    timed(
        f"failed login, {label} account",
        lambda address=address: Client(
            HTTP_HOST="127.0.0.1", REMOTE_ADDR=f"192.0.2.{next(mails) % 250}"
        ).post(
            "/accounts/login/", {"username": address, "password": "wrong password"}, secure=True
        ),
        20,
    )
