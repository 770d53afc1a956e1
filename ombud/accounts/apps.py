from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ombud.accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from ombud.accounts import housekeeping  # noqa: F401 - registers its steps
        from ombud.accounts.middleware import session_login_mark

        user_logged_in.connect(session_login_mark, dispatch_uid="ombud-session-login-mark")

        from allauth.mfa import signals as mfa_signals

        from ombud.accounts.services import mfa_change_audit

        def added(sender, user, **kwargs):
            mfa_change_audit(user=user, added=True)

        def removed(sender, user, **kwargs):
            mfa_change_audit(user=user, added=False)

        mfa_signals.authenticator_added.connect(added, weak=False, dispatch_uid="ombud-mfa-added")
        mfa_signals.authenticator_removed.connect(
            removed, weak=False, dispatch_uid="ombud-mfa-removed"
        )
