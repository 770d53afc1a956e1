from typing import cast

from django.conf import settings
from django.contrib.auth import password_validation
from django.db import transaction
from django.urls import reverse

from ombud.accounts.models import User
from ombud.accounts.signals import account_changed, keys_replaced
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import email_send


def user_create(*, email: str, password: str, display_name: str = "") -> User:
    """A staff account with its key pair; the private key is locked under the password."""
    public_key, private_key = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private_key, password)
    user = User(
        username=email.lower(),
        email=email.lower(),
        display_name=display_name,
        public_key=public_key,
        private_key_box=box,
        key_salt=salt,
        key_params=params,
    )
    user.set_password(password)
    user.save()
    return user


def user_private_key_unlock(*, user: User, password: str) -> bytes:
    if user.private_key_box is None or user.key_salt is None or user.key_params is None:
        raise ServiceError("This account has no key pair.")
    return crypto.private_key_unlock(user.private_key_box, password, user.key_salt, user.key_params)


def _account_changed(user, type: AuditType, data: dict, actor=None) -> None:
    """Recorded by the layers above in each organisation the account belongs to."""
    account_changed.send(sender=User, user=user, type=type, data=data, actor=actor)


def user_password_change(*, user: User, old_password: str, new_password: str) -> bytes | None:
    """Re-encrypt the same private key under the new password: every case
    stays readable. Returns the private key for the current session. Other
    sessions end: the session auth hash changes with the password."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.check_password(old_password):
            raise ServiceError("Your current password was entered incorrectly.")
        password_validation.validate_password(new_password, user)
        private_key = None
        if user.has_keys:
            private_key = user_private_key_unlock(user=user, password=old_password)
            user.private_key_box, user.key_salt, user.key_params = crypto.private_key_lock(
                private_key, new_password
            )
        user.set_password(new_password)
        user.save()
        _account_changed(user, AuditType.PASSWORD_CHANGED, {"user": user.pk}, actor=user)
    return private_key


def user_password_reset(*, user: User, new_password: str) -> int:
    """A forgotten password: the old private key is lost with it, so the
    account gets a new key pair, and every case it could read waits for
    someone who holds it (or the recovery kit's trustees) to open it again
    (`keys_replaced`, received by ombud.cases). Returns how many cases wait."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        password_validation.validate_password(new_password, user)
        public_key, private_key = crypto.keypair_new()
        user.public_key = public_key
        user.private_key_box, user.key_salt, user.key_params = crypto.private_key_lock(
            private_key, new_password
        )
        user.set_password(new_password)
        user.save()
        waiting = keys_replaced.send(sender=User, user=user)
    return sum(cast(int, count) for _receiver, count in waiting)


def password_reset_send(*, user: User, uid: str, token: str) -> None:
    """Queue the reset link for an account that asked for one. The token is
    Django's (an HMAC over the account's state): stored nowhere, dead once
    the password changes or after PASSWORD_RESET_TIMEOUT. The mail is the
    person's own, not an organisation's: no chair's outbox lists it."""
    url = settings.SITE_ROOT + reverse("password-reset-confirm", args=[uid, token])
    with transaction.atomic():
        email_send(to=user.email, template="password_reset", context={"url": url})
        _account_changed(user, AuditType.PASSWORD_RESET_REQUESTED, {"user": user.pk})


def mfa_change_audit(*, user: User, added: bool) -> None:
    """An authenticator was added or removed on allauth's pages: recorded in
    the audit log of every organisation the person belongs to."""
    with transaction.atomic():
        _account_changed(
            user, AuditType.MFA_ADDED if added else AuditType.MFA_REMOVED, {"user": user.pk}, user
        )
