from django.db import models


class ThrottleBucket(models.Model):
    """Attempts per key per time window. Keys are keyed hashes: no IP address
    is stored in the clear."""

    key = models.CharField(max_length=64)
    window = models.BigIntegerField(help_text="Start of the window, in Unix seconds.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window"], name="lib_throttle_bucket_unique")
        ]

    def __str__(self):
        return f"{self.key[:8]}… {self.count}"
