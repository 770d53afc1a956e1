from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ombud.portal"
    verbose_name = "Reporter portal"
