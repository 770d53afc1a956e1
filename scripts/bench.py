"""`make bench`: numbers for the costs a user feels. Prints, asserts nothing.

Runs against a throw-away SQLite database in a temporary directory."""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

tmp = tempfile.mkdtemp(prefix="ombud-bench-")
os.environ.setdefault("OMBUD_VAR_DIR", tmp)
os.environ["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ombud.settings")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from ombud.accounts.models import Membership  # noqa: E402
from ombud.accounts.services import user_create, user_private_key_unlock  # noqa: E402
from ombud.cases.models import Case  # noqa: E402
from ombud.cases.services import case_content_read, case_submit  # noqa: E402
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
org, _ = organisation_create(name="Bench", slug="bench", chair=chair)
for i in range(9):
    Membership.objects.create(
        user=user_create(email=f"r{i}@bench.example", password=password), organisation=org
    )
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
