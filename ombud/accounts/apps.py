from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ombud.accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from ombud.accounts.middleware import session_login_mark

        user_logged_in.connect(session_login_mark, dispatch_uid="ombud-session-login-mark")
