from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2PasswordHasher


class Argon2PasswordHasher(DjangoArgon2PasswordHasher):
    """Django's Argon2id hasher at the cost of OMBUD_ARGON2, the derivation of
    the key that protects the private key beside it: guessing a password from
    its hash costs no less than guessing it from the sealed key. Same
    algorithm name, so stored hashes still verify; a hash made at a lower
    cost is redone at this one on its owner's next login."""

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.OMBUD_ARGON2["time_cost"]

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.OMBUD_ARGON2["memory_cost"]

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.OMBUD_ARGON2["parallelism"]
