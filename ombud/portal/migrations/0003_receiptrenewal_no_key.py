"""A renewal link holds no case key any more (issue 12, item 5): the links
still waiting, each with the case key under its token, are deleted (the
reporter asks again) and the column dropped."""

from django.db import migrations


def renewals_delete(apps, schema_editor):
    apps.get_model("portal", "ReceiptRenewal").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_delete_throttlebucket"),
    ]

    operations = [
        migrations.RunPython(renewals_delete, migrations.RunPython.noop),
        migrations.RemoveField(model_name="receiptrenewal", name="sealed_key"),
    ]
