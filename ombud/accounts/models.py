from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A staff account. Its X25519 private key is stored only inside a
    SecretBox under an Argon2id key derived from the password (DESIGN §5)."""

    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    public_key = models.BinaryField(max_length=32, null=True)
    private_key_box = models.BinaryField(null=True)
    key_salt = models.BinaryField(max_length=16, null=True)
    key_params = models.JSONField(null=True)

    def __str__(self):
        return self.display_name or self.email

    @property
    def has_keys(self) -> bool:
        return self.public_key is not None


class Role(models.TextChoices):
    CHAIR = "chair", "Chair"
    RESPONDER = "responder", "Responder"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique")
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}, {self.organisation})"

    @property
    def is_chair(self) -> bool:
        return self.role == Role.CHAIR


class PushChannel(models.Model):
    """Where a responder wants to be paged besides email: an Apprise URL
    (ntfy, Signal, Matrix, Telegram, SMS gateways, ...). URLs carry tokens, so
    they are stored sealed under a pepper-derived key."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_channels")
    label = models.CharField(max_length=100)
    url_box = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.label


class Invitation(models.Model):
    """A one-time link, sent by email, with which a new team member sets their
    password (and so gets their key pair). Only a keyed hash of the link's
    token is stored; the row is deleted once accepted."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=150)
    display_name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    secret_hash = models.BinaryField(max_length=32, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "email"], name="invitation_unique")
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organisation}"
