"""Attachments: sent with the public report form, checked by what the bytes
are, stored encrypted, downloaded only by responders holding the case, as a
download, photos without their metadata; every download audited.

The access matrix (test_access.py) checks the download URL for every kind of
person too; here it is spelt out with the files themselves."""

import io
import re
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import (
    InMemoryUploadedFile,
    SimpleUploadedFile,
    TemporaryUploadedFile,
)
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from PIL import Image

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.attachments import (
    MAX_BYTES,
    MAX_FILES,
    MAX_TOTAL,
    content_disposition,
    content_type_detect,
)
from ombud.cases.models import Attachment, Case
from ombud.orgs.models import Membership, Role

MB = 1024 * 1024
CAMERA = "ZQX-camera-7f3a"  # written into the photo's EXIF: must not be in the download
GPS = {1: "N", 2: (52.0, 22.0, 7.5), 3: "E", 4: (4.0, 53.0, 2.25)}


# --- files, made here ------------------------------------------------------------------


def jpeg_with_gps(size=(40, 20), orientation=6) -> bytes:
    """A phone photo: GPS position, camera model, a comment, taken sideways."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x0110] = CAMERA  # Model
    exif[0x8825] = GPS  # the GPS IFD
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "JPEG", exif=exif.tobytes(), comment=CAMERA.encode())
    return out.getvalue()


def png(size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n% a small document\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
TEXT = "Notes: what they said, word for word. 日本語 🙂\n".encode()


def upload(name: str, data: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def filler(size: int, magic: bytes = b"%PDF-") -> bytes:
    return magic + b"\0" * (size - len(magic))


# --- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(people, submit_report):
    """Case 1 of org A from the web form with a photo, a PNG named x.pdf, a PDF
    and a text file; dave excluded by the reporter, erin recused, frank joined
    afterwards. Case 2 has a file of its own."""
    erin = user_create(email="erin@a.example", password=PASSWORD, display_name="Erin")
    Membership.objects.create(user=erin, organisation=people.org_a, role=Role.RESPONDER)
    case, _ = submit_report(
        people.event_a,
        description="Photos attached.",
        exclude=[str(people.dave.pk)],
        attachments=[
            upload("IMG_0042.JPG", jpeg_with_gps(), "image/jpeg"),
            upload("x.pdf", png(), "application/pdf"),
            upload("Programme.pdf", PDF, "application/pdf"),
            upload("notes.txt", TEXT, "text/plain"),
        ],
    )
    assert browser(erin).post(f"/org-a/staff/cases/{case.number}/recuse/").status_code == 302
    frank = user_create(email="frank@a.example", password=PASSWORD, display_name="Frank")
    Membership.objects.create(user=frank, organisation=people.org_a, role=Role.RESPONDER)
    other, _ = submit_report(
        people.event_a, attachments=[upload("other.txt", b"another case's file")]
    )

    people.case, people.other, people.erin, people.frank = case, other, erin, frank
    # By detected type; the PNG sent as x.pdf under its name.
    people.files = {a.content_type: a for a in case.attachments.all()}
    people.files["x.pdf"] = people.files.pop("image/png")
    people.other_file = other.attachments.get()
    return people


def url(case, attachment) -> str:
    return f"/org-a/staff/cases/{case.number}/attachments/{attachment.pk}/"


def downloads(world, actor, attachment=None, case=None):
    return browser(actor).get(url(case or world.case, attachment or world.files["text/plain"]))


# --- sending files with the report ---------------------------------------------------------


def test_report_form_offers_a_file_input_with_its_limits(client, people):
    response = client.get(people.event_a.get_report_url())
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    tag = re.search(r"<input[^>]*type=\"file\"[^>]*>", html).group(0)
    assert "multiple" in tag and 'name="attachments"' in tag and 'id="id_attachments"' in tag
    assert 'aria-describedby="id_attachments_helptext"' in tag
    assert '<label for="id_attachments">Photos, screenshots or documents</label>' in html
    hint = re.search(r'id="id_attachments_helptext">([^<]*)<', html).group(1)
    for limit in ("10 files", "10 MB each", "25 MB together", "JPEG, PNG, GIF, WebP", "PDF"):
        assert limit in hint


def test_files_sent_with_the_form_are_stored_encrypted_with_their_detected_type(world):
    stored = {a.content_type: a for a in world.case.attachments.all()}
    assert set(stored) == {"image/jpeg", "image/png", "application/pdf", "text/plain"}
    assert stored["application/pdf"].size == len(PDF)
    assert all(a.submission.kind == "report" and a.message is None for a in stored.values())
    assert all(
        PDF not in bytes(a.content) and b"Programme" not in bytes(a.name) for a in stored.values()
    )
    event = AuditEvent.objects.get(case_id=world.case.pk, type=AuditType.CASE_SUBMITTED)
    assert event.data["attachments"] == 4


def test_responder_downloads_the_same_bytes_as_a_download(world):
    response = downloads(world, world.bob, world.files["application/pdf"])
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Programme.pdf\"; filename*=UTF-8''Programme.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    csp = response["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp

    text = downloads(world, world.alice, world.files["text/plain"])
    assert text.content == TEXT
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="notes.txt"' in text["Content-Disposition"]


def test_the_type_comes_from_the_bytes_not_the_name(world):
    response = downloads(world, world.bob, world.files["x.pdf"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "filename=\"x.png\"; filename*=UTF-8''x.png" in response["Content-Disposition"]
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_the_downloaded_photo_has_no_exif_and_no_gps(world):
    photo = world.files["image/jpeg"]
    response = downloads(world, world.bob, photo)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert 'filename="IMG_0042.jpg"' in response["Content-Disposition"]
    data = response.content
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(0x8825) == {}
    assert b"Exif" not in data and CAMERA.encode() not in data
    assert "comment" not in image.info and "exif" not in image.info
    assert image.size == (20, 40), "turned upright as its orientation said"
    # The stored original keeps its metadata, as evidence.
    assert photo.size == len(jpeg_with_gps())
    html = browser(world.bob).get(f"/org-a/staff/cases/{world.case.number}/").content.decode()
    assert "The download leaves out the photo's metadata" in html


def test_a_photo_that_cannot_be_cleaned_is_downloaded_as_sent_with_a_warning(people, submit_report):
    broken = b"\xff\xd8\xff\xe0" + b"not really a picture " * 20
    case, _ = submit_report(people.event_a, attachments=[upload("broken.jpg", broken)])
    page = browser(people.bob).get(f"/org-a/staff/cases/{case.number}/").content.decode()
    assert "Could not remove the photo's metadata (it may contain location)" in page
    response = browser(people.bob).get(url(case, case.attachments.get()))
    assert response.status_code == 200
    assert response.content == broken


def test_the_case_page_lists_the_files_with_type_size_and_link(world):
    response = browser(world.bob).get(f"/org-a/staff/cases/{world.case.number}/")
    html = response.content.decode()
    assert 'id="attachments-title"' in html
    for attachment in world.case.attachments.all():
        assert url(world.case, attachment) in html
    assert "IMG_0042.JPG" in html and "Programme.pdf" in html and "notes.txt" in html
    assert f"PDF document, {filesizeformat(len(PDF))}, with the report" in html
    assert "JPEG image" in html and "PNG image" in html and "Text," in html
    # GIF, PDF and text keep whatever metadata they carry; the page says so.
    assert html.count("metadata is not removed from this type of file") == 2
    assert url(world.other, world.other_file) not in html


# --- what is refused -----------------------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01\0" + b"\0" * 64
ZIP = b"PK\x03\x04\x14\0\0\0\x08\0" + b"\0" * 64
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([("photo.jpg", ELF)], "“photo.jpg” is not a type we accept"),
        ([("photo.jpg", ZIP)], "“photo.jpg” is not a type we accept"),
        ([("photo.jpg", HTML)], "“photo.jpg” is not a type we accept"),
        ([("page.txt", b"  \n<html><body>hi</body></html>")], "“page.txt” is not a type"),
        ([("drawing.svg", SVG)], "“drawing.svg” is not a type we accept"),
        ([("empty.txt", b"")], "“empty.txt” is empty."),
        ([("big.pdf", filler(MAX_BYTES + 1))], "“big.pdf” is larger than 10 MB."),
        ([(f"{i}.txt", b"note") for i in range(MAX_FILES + 1)], "At most 10 files"),
        (
            [("a.pdf", filler(10 * MB)), ("b.pdf", filler(10 * MB)), ("c.pdf", filler(6 * MB))],
            "The files together are larger than 25 MB.",
        ),
    ],
    ids=["elf", "zip", "html", "html-as-text", "svg", "empty", "10MB+1", "11-files", "26MB"],
)
def test_a_bad_file_refuses_the_report_with_the_text_kept(client, people, files, error):
    response = client.post(
        people.event_a.get_report_url(),
        {
            "description": "What happened, kept for another try.",
            "attachments": [upload(name, data) for name, data in files],
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert error in html
    assert html.count(error) == 2, "in the summary at the top and beside the file input"
    assert "What happened, kept for another try." in html
    assert Case.objects.count() == 0 and Attachment.objects.count() == 0


def test_html_is_never_taken_as_text():
    assert content_type_detect(HTML) is None
    assert content_type_detect(b"\xef\xbb\xbf<html>") is None
    assert content_type_detect(b"<3 you, and a <b>bold</b> claim") == "text/plain"


def test_25_mb_of_files_is_accepted(people, submit_report):
    files = [filler(10 * MB), filler(10 * MB), filler(MAX_TOTAL - 20 * MB)]
    case, _ = submit_report(
        people.event_a,
        attachments=[upload(f"{i}.pdf", data) for i, data in enumerate(files)],
    )
    assert sorted(case.attachments.values_list("size", flat=True)) == [5 * MB, 10 * MB, 10 * MB]


def test_files_over_the_request_limit_are_refused_and_what_was_typed_is_kept(
    client, people, settings
):
    """A body over the upload limit (64 MB) is read to its end, its files
    dropped unread: the form comes back with the text, and says why."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * MB  # as a 64 MB body would, cheaper
    response = client.post(
        people.event_a.get_report_url(),
        {
            "description": "What happened, typed before choosing a film.",
            "location": "Hall B",
            "consent_public": "named",
            "attachments": [upload("a.pdf", filler(2 * MB)), upload("b.pdf", filler(MB))],
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "We could not accept this request" not in html
    assert "What happened, typed before choosing a film." in html
    assert 'value="Hall B"' in html
    assert re.search(r'value="named"[^>]*checked', html)
    assert "The files together are larger than 25 MB." in html
    assert "1 MB of text" not in html
    assert Case.objects.count() == 0 and Attachment.objects.count() == 0


def test_the_form_asks_for_the_files_again_when_it_comes_back(client, people):
    response = client.post(
        people.event_a.get_report_url(),
        {"description": " ", "attachments": [upload("notes.txt", TEXT)]},
    )
    assert response.status_code == 400
    assert "Please choose your files again" in response.content.decode()


def test_uploads_are_held_in_memory_never_in_a_temporary_file(settings):
    request = RequestFactory().post(
        "/", {"attachments": upload("big.pdf", filler(5 * MB))}
    )  # over Django's default 2.5 MB, which would go to a temporary file
    received = request.FILES["attachments"]
    assert isinstance(received, InMemoryUploadedFile)
    assert not isinstance(received, TemporaryUploadedFile)
    assert received.size == 5 * MB


# --- who may download ----------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(world):
    response = downloads(world, None)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("who", ["charlie", "dave", "erin", "frank"])
def test_nobody_without_a_grant_downloads_and_nothing_is_audited(world, who):
    """Another organisation's chair, the responder the reporter excluded, the
    one who recused, the one who joined after the report: all 404."""
    before = AuditEvent.objects.count()
    response = downloads(world, getattr(world, who))
    assert response.status_code == 404
    assert TEXT not in response.content
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("who", ["bob", "alice"])
def test_a_responder_and_the_chair_with_a_grant_download(world, who):
    response = downloads(world, getattr(world, who))
    assert response.status_code == 200
    assert response.content == TEXT


def test_another_cases_file_is_not_found_under_this_case(world):
    bob = browser(world.bob)
    assert bob.get(url(world.other, world.other_file)).status_code == 200
    assert bob.get(url(world.case, world.other_file)).status_code == 404
    assert (
        bob.get(f"/org-a/staff/cases/{world.case.number}/attachments/{'0' * 32}/").status_code
        == 404
    )
    assert (
        bob.get(f"/org-a/staff/cases/{world.case.number}/attachments/not-a-uuid/").status_code
        == 404
    )


def test_download_is_get_only(world):
    bob = browser(world.bob)
    path = url(world.case, world.files["text/plain"])
    assert bob.post(path).status_code == 405
    assert bob.head(path).status_code == 405


def test_every_download_is_audited_with_the_file_id_only(world):
    attachment = world.files["application/pdf"]
    downloads(world, world.bob, attachment)
    event = AuditEvent.objects.filter(type=AuditType.ATTACHMENT_DOWNLOADED).get()
    assert (event.actor_id, event.case_id) == (world.bob.pk, world.case.pk)
    assert event.data == {"attachment": str(attachment.pk)}


def test_a_file_name_cannot_break_the_header(people, submit_report):
    name = 'evil" x=\\1; \u202egpj.exe 日本.jpg'
    case, _ = submit_report(people.event_a, attachments=[upload(name, TEXT)])
    response = browser(people.bob).get(url(case, case.attachments.get()))
    assert_safe_disposition(response["Content-Disposition"], ".txt")


@pytest.mark.parametrize(
    "name", ['a"b\r\nSet-Cookie: x=1.jpg', "\u202egpj.exe", "日本語", "..", "../../etc/passwd"]
)
def test_any_name_gives_a_safe_header(name):
    assert_safe_disposition(content_disposition(name, "image/jpeg"), ".jpg")


def assert_safe_disposition(header: str, extension: str):
    assert "\r" not in header and "\n" not in header and "\u202e" not in header
    found = re.fullmatch(
        r"attachment; filename=\"([^\"\\/]+)\"; filename\*=UTF-8''([\w.%-]+)", header
    )
    assert found, header
    fallback, full = found.group(1), unquote(found.group(2))
    assert fallback.isascii() and fallback.endswith(extension)
    assert full.endswith(extension) and not full.startswith(".")
    assert not set(full) & set('"\\/\r\n\u202e')
