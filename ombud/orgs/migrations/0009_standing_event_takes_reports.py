"""The standing event always takes reports (issue 12, item 15): one a chair
turned off before that rule takes them again. Its address is left as it is:
links may point at it by now."""

from django.db import migrations


def standing_events_take_reports(apps, schema_editor):
    apps.get_model("orgs", "Event").objects.filter(is_standing=True).update(accepts_reports=True)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0008_recovery_trustees"),
    ]

    operations = [
        migrations.RunPython(standing_events_take_reports, migrations.RunPython.noop),
    ]
