from django.conf import settings
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


# What a chair may set on the organisation.
ORGANISATION_SETTINGS_FIELDS = [
    "escalation_minutes",
    "meeting_hours",
    "followup_days",
    "page_shows_location",
    "two_person_severity",
    "full_content_email",
    "require_mfa",
]


class Organisation(models.Model):
    """The tenant. Only the public half of the recovery key is stored; the
    private half is split among trustees (RecoveryTrustee), whose shares are
    printed once and never stored."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    recovery_public_key = models.BinaryField(max_length=32)
    # A recovery key rotation under way (ombud.cases.services.recovery): the new public
    # key, and the salt from which the new private key is derived from the
    # current one, so an interrupted rotation resumes with the same key.
    recovery_next_public_key = models.BinaryField(max_length=32, null=True)
    recovery_rotation_salt = models.BinaryField(max_length=32, null=True)
    # How many trustees' shares use the kit (k of n). Empty: a single-person
    # kit from before the kit was split, to be re-issued.
    recovery_threshold = models.PositiveSmallIntegerField(null=True)
    # k of the kit a rotation under way will issue (its trustees: pending rows).
    recovery_next_threshold = models.PositiveSmallIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    followup_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after a report by which the reporter gets a follow-up."
    )
    escalation_minutes = models.PositiveSmallIntegerField(
        default=10,
        help_text="Page everyone again, and the chair, if nobody acknowledges an "
        "ongoing incident within this many minutes.",
    )
    meeting_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours after a report by which the team meets about it."
    )
    page_shows_location = models.BooleanField(
        default=False,
        help_text="Include the incident location in urgent pages (they leave the system "
        "unencrypted).",
    )
    two_person_severity = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Responses of this severity or higher need a second responder to agree.",
    )
    full_content_email = models.BooleanField(
        default=False,
        help_text="Send the full text of replies to reporters by email. Email is not "
        "encrypted end to end: leave off unless reporters expect it.",
    )
    require_mfa = models.BooleanField(
        default=False,
        help_text="Every team member must set up two-factor authentication (an "
        "authenticator app or a security key) before they can see any case.",
    )

    def __str__(self):
        return self.name


class RecoveryTrustee(models.Model):
    """A member who holds share `index` of the organisation's recovery kit
    (DESIGN §5). Only who holds which share is stored, never a share.
    `pending`: named for the kit a rotation under way will issue."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="recovery_trustees"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    index = models.PositiveSmallIntegerField()
    pending = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "pending", "index"], name="recovery_trustee_unique"
            )
        ]
        ordering = ["index"]

    def __str__(self):
        return f"share {self.index}: {self.user or 'a former member'}"


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

    def clean(self):
        # Mail to a team address goes to the organisation that has it: a second
        # organisation using it would receive (or hide) the first one's reports.
        if self.team_email:
            elsewhere = Event.objects.filter(team_email__iexact=self.team_email).exclude(
                organisation_id=self.organisation_id
            )
            if elsewhere.exists():
                raise ValidationError(
                    {"team_email": "Another organisation on this server uses this address."}
                )

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


class ResponseType(models.Model):
    """A possible response in the organisation's catalog (DESIGN §2). Retired
    types stay for the cases that used them but are not offered again."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="response_types"
    )
    name = models.CharField(max_length=200)
    severity = models.PositiveSmallIntegerField(default=1, help_text="1 (mild) to 5 (severe).")
    retired = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    CHAIR = "chair", "Chair"
    RESPONDER = "responder", "Responder"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_membership"  # moved here from accounts; the table kept its name
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique")
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}, {self.organisation})"

    @property
    def is_chair(self) -> bool:
        return self.role == Role.CHAIR


class Invitation(models.Model):
    """A one-time link, sent by email, with which a new team member sets their
    password (and so gets their key pair). Only a keyed hash of the link's
    token is stored; the row is deleted once accepted."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=150)
    display_name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    secret_hash = models.BinaryField(max_length=32, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "accounts_invitation"  # moved here from accounts; the table kept its name
        constraints = [
            models.UniqueConstraint(fields=["organisation", "email"], name="invitation_unique")
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organisation}"


# The catalog every organisation starts with, from the staff procedure,
# with a severity from 1 (mild) to 5 (severe).
SEED_RESPONSES = [
    ("No further action", 1),
    ("A warning", 1),
    ("Requiring no further contact with the reporter", 2),
    ("Barring from evening and social events", 3),
    ("Barring from alcohol at the event", 2),
    ("Ending a talk early", 3),
    ("Not publishing the talk video or slides", 3),
    ("A ban from future speaking", 4),
    ("Ending a volunteer role", 3),
    ("Refusing or reclaiming a grant or refund", 3),
    ("Asking the person to leave the event (without refund)", 4),
    ("Banning from future events", 5),
    ("Removing membership", 5),
    ("A public account of the incident", 4),
]
