from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor):
    # The database cache (settings.CACHES) holds allauth's rate limits for the
    # second login step, shared by every process; `migrate` makes its table.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_invitation")]

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
