from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "ombud.orgs"
    verbose_name = "Organisations"
