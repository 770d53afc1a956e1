import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ombud.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve with mail going to the log
# or the pepper beside the database (ombud.lib.checks).
from ombud.lib.checks import production_checks_refuse  # noqa: E402

production_checks_refuse()
