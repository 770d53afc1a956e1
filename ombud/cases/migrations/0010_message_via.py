from django.db import migrations, models

INBOX_VERSION = 2  # ombud.lib.crypto.INBOX_VERSION: the first byte of inbox-sealed content


def mail_marked(apps, schema_editor):
    """Messages from the reporter whose body is sealed to the case inbox came
    by mail (before this, nothing else wrote to the inbox); every other
    message stays `web` and opens under the case key only."""
    Message = apps.get_model("cases", "Message")
    by_mail = [
        pk
        for pk, body in Message.objects.filter(direction="from_reporter").values_list("pk", "body")
        if bytes(body[:1]) == bytes([INBOX_VERSION])
    ]
    for start in range(0, len(by_mail), 500):
        Message.objects.filter(pk__in=by_mail[start : start + 500]).update(via="email")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_receipt_pending_no_email_wrap"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="via",
            field=models.CharField(
                choices=[("web", "On the web"), ("email", "By email")], default="web", max_length=10
            ),
        ),
        migrations.RunPython(mail_marked, migrations.RunPython.noop),
    ]
