from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

# Path segments that follow /<org>/ and so cannot be event slugs.
RESERVED_EVENT_SLUGS = {"staff", "report", "static", "accounts"}


def validate_event_slug(value):
    if value in RESERVED_EVENT_SLUGS:
        raise ValidationError("“%(value)s” is reserved; choose another.", params={"value": value})


# What a chair may set on an event, in the order the form shows it.
EVENT_EDITABLE_FIELDS = [
    "name",
    "slug",
    "starts_on",
    "ends_on",
    "timezone",
    "accepts_reports",
    "team_email",
    "emergency_number",
    "crisis_line",
    "non_emergency_number",
    "venue_security",
]


class Organisation(models.Model):
    """The tenant. Only the public half of the recovery key is stored; the
    private half is printed once as the chair's recovery kit."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    recovery_public_key = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    # The newest audit event, so a chain cut short at its end is noticed too.
    audit_head_seq = models.PositiveBigIntegerField(default=0)
    audit_head_hash = models.CharField(max_length=64, blank=True)
    followup_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after a report by which the reporter gets a follow-up."
    )
    full_content_email = models.BooleanField(
        default=False,
        help_text="Send the full text of replies to reporters by email. Email is not "
        "encrypted end to end: leave off unless reporters expect it.",
    )

    def __str__(self):
        return self.name


class Event(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, validators=[validate_event_slug])
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    accepts_reports = models.BooleanField(default=True)
    # The organisation-wide "no event / online space" event that always exists.
    is_standing = models.BooleanField(default=False)
    team_email = models.EmailField(blank=True)
    crisis_line = models.CharField(max_length=200, blank=True)
    non_emergency_number = models.CharField(max_length=200, blank=True)
    emergency_number = models.CharField(max_length=200, blank=True)
    venue_security = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="event_slug_unique")
        ]
        ordering = ["-is_standing", "-starts_on", "name"]

    def __str__(self):
        return self.name

    def get_report_url(self):
        return reverse("report", args=[self.organisation.slug, self.slug])

    @property
    def emergency_contacts(self):
        """(label, value) pairs of the contacts that are set, in the order the
        procedure lists them."""
        pairs = [
            ("Emergency / police", self.emergency_number),
            ("Crisis line", self.crisis_line),
            ("Non-emergency number", self.non_emergency_number),
            ("Venue security", self.venue_security),
        ]
        return [(label, value) for label, value in pairs if value]
