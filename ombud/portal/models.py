from django.db import models


class PortalSession(models.Model):
    """A reporter's visit opened with a receipt. The cookie holds a random
    secret; the row holds only its keyed hash and the case key sealed under a
    key derived from it, so neither side alone opens the case."""

    secret_hash = models.BinaryField(max_length=32, unique=True)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    sealed_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    def __str__(self):
        return f"Portal session {self.pk}"


class ReceiptRenewal(models.Model):
    """A one-time link, sent by email, that shows a new receipt: the keyed
    hash of its token. It holds no key: the new receipt works only once
    someone who holds the case opens it (ombud.cases.services.receipts)."""

    secret_hash = models.BinaryField(max_length=32, unique=True)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"Receipt renewal {self.pk}"
