"""The chair's recovery kit pages: restore access with the trustees' shares,
print a trustee's share again, re-issue the kit (rotate the recovery key, split
among trustees). Shares are posted, used and forgotten: every view is
never-cached and marks them as sensitive so no error report carries them."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from ombud.cases.services import grants, recovery
from ombud.cases.services import rotation as kit_rotation
from ombud.lib import crypto
from ombud.lib.crypto import RecoveryKitError
from ombud.lib.errors import ServiceError
from ombud.orgs import selectors as org_selectors
from ombud.orgs.decorators import staff_view


def kit_field(organisation):
    k = organisation.recovery_threshold
    if k is None:
        label = "Recovery kit"
        help_text = (
            "The single-person kit from before the kit was split, starting with "
            "OMBUD-RECOVERY-1. Spaces and line breaks do not matter."
        )
    elif k == 1:
        label = "The recovery kit's share"
        help_text = (
            "Your kit is 1 of 1: this one share opens it, so one person can use it alone. "
            "It starts with OMBUD-SHARE-1; spaces and line breaks do not matter."
        )
    else:
        label = f"Shares of {k} trustees"
        help_text = (
            f"The kit needs the shares of {k} trustees together: each types or pastes their "
            "share (it starts with OMBUD-SHARE-1), one after another, or passes it to whoever "
            "is at the keyboard. Spaces and line breaks do not matter."
        )
    return forms.CharField(
        label=label,
        max_length=recovery.KIT_MAX_LENGTH,
        help_text=help_text + " Used for this request only and never stored.",
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        error_messages={"max_length": "This is not an Ombud recovery kit: it is far too long."},
    )


class KitForm(forms.Form):
    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kit"] = kit_field(organisation)


class ShareShowForm(KitForm):
    share = forms.TypedChoiceField(label="Print the share of", coerce=int, choices=())

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, organisation=organisation, **kwargs)
        self.fields["share"].choices = [  # type: ignore[attr-defined]
            (t.index, f"{t.user or 'a former member'} (share {t.index})")
            for t in org_selectors.recovery_trustees(organisation=organisation)
        ]
        self.order_fields(["share", "kit"])


class RotateForm(KitForm):
    """The current shares, and (unless a rotation is under way with its
    trustees named) who holds the new kit's shares and how many it needs."""

    trustees = forms.ModelMultipleChoiceField(  # type: ignore[var-annotated]
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Trustees of the new kit",
        help_text="Each gets one share. Choose people who will not all be excluded from the "
        "same report, and who can meet (or pass their share on) when the kit is needed.",
    )
    threshold = forms.IntegerField(
        label="Shares needed to use the kit",
        min_value=1,
        max_value=crypto.SHARE_MAX,
        help_text="At least 2 when there are two or more trustees: then no one person can "
        "use the kit alone.",
    )

    def __init__(self, *args, organisation, named: bool, **kwargs):
        super().__init__(*args, organisation=organisation, **kwargs)
        if named:
            del self.fields["trustees"], self.fields["threshold"]
            return
        self.fields["trustees"].queryset = org_selectors.member_users(  # type: ignore[attr-defined]
            organisation=organisation
        )
        self.order_fields(["trustees", "threshold", "kit"])


class PendingRestoreForm(KitForm):
    pending = forms.ModelMultipleChoiceField(  # type: ignore[var-annotated]
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Restore access for",
        error_messages={"invalid_choice": "That pending request does not exist any more."},
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, organisation=organisation, **kwargs)
        self.order_fields(["pending", "kit"])
        self.fields["pending"].queryset = grants.pending_for_organisation(organisation=organisation)  # type: ignore[attr-defined]
        self.fields["pending"].label_from_instance = lambda p: (  # type: ignore[attr-defined]
            f"{p.user} — case #{p.case.number} ({p.case.event.name})"
        )


class KitGrantForm(KitForm):
    member = forms.ModelChoiceField(queryset=None, label="Team member", empty_label="Choose")  # type: ignore[var-annotated]
    scope = forms.ChoiceField(
        choices=[
            (grants.SCOPE_CASE, "One case"),
            (grants.SCOPE_EVENT, "All open cases of an event"),
            (grants.SCOPE_ALL, "Every case of the organisation"),
        ],
        initial=grants.SCOPE_CASE,
        widget=forms.RadioSelect,
        label="Cases",
    )
    number = forms.IntegerField(label="Case number", required=False, min_value=1)
    event = forms.ModelChoiceField(queryset=None, label="Event", required=False)  # type: ignore[var-annotated]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, organisation=organisation, **kwargs)
        self.order_fields(["member", "scope", "number", "event", "kit"])
        self.fields["member"].queryset = grants.grantable_members(organisation=organisation)  # type: ignore[attr-defined]
        self.fields["event"].queryset = organisation.events.all()  # type: ignore[attr-defined]


def _kit_error(form, error) -> None:
    form.add_error("kit" if isinstance(error, RecoveryKitError) else None, str(error))


@never_cache
@sensitive_post_parameters("kit")
@staff_view("orgs.use_recovery_kit")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_restore(request, organisation):
    """Restore access with the kit: the pending requests, or any member to any case."""
    form_name = request.POST.get("form") if request.method == "POST" else None
    pending_form = PendingRestoreForm(
        request.POST if form_name == "pending" else None,
        organisation=organisation,
        initial={"pending": grants.pending_for_organisation(organisation=organisation)},
    )
    grant_form = KitGrantForm(
        request.POST if form_name != "pending" and request.method == "POST" else None,
        organisation=organisation,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form_name == "pending" and pending_form.is_valid():
            try:
                done = recovery.recovery_restore_pending(
                    actor=request.user,
                    organisation=organisation,
                    kit_text=pending_form.cleaned_data["kit"],
                    pending=pending_form.cleaned_data["pending"],
                )
            except (RecoveryKitError, ServiceError) as e:
                _kit_error(pending_form, e)
            else:
                for user, result in done:
                    messages.success(request, result.summary(user))
                return redirect("recovery-restore", organisation.slug)
        elif form_name != "pending" and grant_form.is_valid():
            data = grant_form.cleaned_data
            try:
                result = recovery.recovery_grant(
                    actor=request.user,
                    organisation=organisation,
                    kit_text=data["kit"],
                    grantee=data["member"],
                    scope=data["scope"],
                    number=data["number"],
                    event=data["event"],
                )
            except (RecoveryKitError, ServiceError) as e:
                _kit_error(grant_form, e)
            else:
                messages.success(request, result.summary(data["member"]))
                return redirect("recovery-restore", organisation.slug)
    return render(
        request,
        "orgs/recovery/restore.html",
        {
            **_trustees(organisation),
            "organisation": organisation,
            "pending_form": pending_form,
            "grant_form": grant_form,
            "has_pending": pending_form.fields["pending"].queryset.exists(),  # type: ignore[attr-defined]
        },
        status=status,
    )


def _trustees(organisation) -> dict:
    return {
        "trustees": org_selectors.recovery_trustees(organisation=organisation),
        "procedure": org_selectors.recovery_procedure(organisation=organisation),
    }


@never_cache
@sensitive_post_parameters("kit")
@staff_view("orgs.use_recovery_kit")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_kit(request, organisation):
    """Print a trustee's share again, to whoever enters k shares."""
    form = ShareShowForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            share = recovery.recovery_share_show(
                actor=request.user,
                organisation=organisation,
                kit_text=form.cleaned_data["kit"],
                index=form.cleaned_data["share"],
            )
        except (RecoveryKitError, ServiceError) as e:
            _kit_error(form, e)
        else:
            return render(
                request,
                "orgs/recovery/kit.html",
                {"organisation": organisation, "shares": [share], "new": False},
            )
    return render(
        request,
        "orgs/recovery/kit_form.html",
        {"organisation": organisation, "form": form, **_trustees(organisation)},
        status=400 if form.errors else 200,
    )


# One request re-wraps for at most this long, then shows progress; the trustees
# enter their shares again to continue (they are never kept between requests).
ROTATION_TIME_BUDGET = 20.0


@never_cache
@sensitive_post_parameters("kit")
@staff_view("orgs.use_recovery_kit")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_rotate(request, organisation):
    """Re-issue the kit: a new recovery key, split among the trustees named."""
    named = organisation.recovery_next_threshold is not None
    proposed, threshold = kit_rotation.trustees_default(organisation=organisation)
    form = RotateForm(
        request.POST or None,
        organisation=organisation,
        named=named,
        initial={"trustees": proposed, "threshold": threshold},
    )
    if request.method == "POST" and form.is_valid():
        try:
            rotation = kit_rotation.recovery_rotate(
                actor=request.user,
                organisation=organisation,
                kit_text=form.cleaned_data["kit"],
                trustees=None if named else list(form.cleaned_data["trustees"]),
                threshold=None if named else form.cleaned_data["threshold"],
                time_budget=ROTATION_TIME_BUDGET,
            )
        except (RecoveryKitError, ServiceError) as e:
            _kit_error(form, e)
        else:
            if rotation.new_shares:
                return render(
                    request,
                    "orgs/recovery/kit.html",
                    {
                        "organisation": organisation,
                        "shares": rotation.new_shares,
                        "new": True,
                        "rotation": rotation,
                    },
                )
            messages.info(
                request,
                f"{rotation.done} of {rotation.total} cases re-wrapped. Enter the current "
                "shares again to continue.",
            )
            return redirect("recovery-rotate", organisation.slug)
    return render(
        request,
        "orgs/recovery/rotate.html",
        {
            "organisation": organisation,
            "form": form,
            "rotation": kit_rotation.rotation_status(organisation=organisation),
            "team_size": org_selectors.members(organisation=organisation).count(),
            "next_trustees": org_selectors.recovery_trustees(
                organisation=organisation, pending=True
            ),
            "next_threshold": organisation.recovery_next_threshold,
            **_trustees(organisation),
        },
        status=400 if form.errors else 200,
    )
