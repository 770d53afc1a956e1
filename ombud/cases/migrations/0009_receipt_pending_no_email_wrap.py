"""No case key is wrapped under anything derived from the reporter's address
any more (issue 12, item 5): the wraps of existing cases are overwritten and
dropped; the keyed lookup that finds a case by address stays. A new receipt
now waits on the case as a public key until someone who holds it opens it.

The old values may linger in free pages of the database file (and in older
backups) until the database is vacuumed: see the README."""

from django.db import migrations, models


def email_wraps_delete(apps, schema_editor):
    apps.get_model("cases", "Case").objects.exclude(reporter_email_wrap=None).update(
        reporter_email_wrap=None, reporter_email_salt=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_mailthreadref"),
    ]

    operations = [
        migrations.RunPython(email_wraps_delete, migrations.RunPython.noop),
        migrations.RemoveField(model_name="case", name="reporter_email_wrap"),
        migrations.RemoveField(model_name="case", name="reporter_email_salt"),
        migrations.AddField(
            model_name="case",
            name="receipt_pending_lookup",
            field=models.BinaryField(max_length=32, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="case",
            name="receipt_pending_public_key",
            field=models.BinaryField(max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="case",
            name="receipt_pending_salt",
            field=models.BinaryField(max_length=16, null=True),
        ),
    ]
