from django.db import models


class OutboxMessage(models.Model):
    """An email waiting to be sent. The whole payload (address, subject, text)
    is sealed under a pepper-derived key, so a database copy holds no
    addresses or message text; the row is deleted once delivered."""

    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE)
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"Outbox message {self.pk} ({self.attempts} attempts)"
