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
