import logging

from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "ombud.notify"

    def ready(self):
        # Apprise's own log lines can quote service URLs, and a URL (an ntfy
        # topic, a bot token) is the secret that lets anyone push to a
        # responder. Delivery logs its outcome itself, without the URL.
        apprise_logger = logging.getLogger("apprise")
        apprise_logger.propagate = False
        apprise_logger.addHandler(logging.NullHandler())
