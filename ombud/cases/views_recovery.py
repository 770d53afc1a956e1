"""The chair's recovery kit pages: restore access with the kit, show the kit
again, rotate the recovery key. The kit is posted, used and forgotten: every
view is never-cached and marks it as sensitive so no error report carries it."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from ombud.cases.services import grants, recovery
from ombud.lib.crypto import RecoveryKitError
from ombud.lib.errors import ServiceError
from ombud.orgs.decorators import staff_view

KIT_HELP = (
    "Paste or type the whole kit, starting with OMBUD-RECOVERY-1. "
    "Spaces and line breaks do not matter. It is used for this request only and never stored."
)


def kit_field():
    return forms.CharField(
        label="Recovery kit",
        max_length=recovery.KIT_MAX_LENGTH,
        help_text=KIT_HELP,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        error_messages={"max_length": "This is not an Ombud recovery kit: it is far too long."},
    )


class KitForm(forms.Form):
    kit = kit_field()


class PendingRestoreForm(forms.Form):
    kit = kit_field()
    pending = forms.ModelMultipleChoiceField(  # type: ignore[var-annotated]
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Restore access for",
        error_messages={"invalid_choice": "That pending request does not exist any more."},
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pending"].queryset = grants.pending_for_organisation(organisation=organisation)  # type: ignore[attr-defined]
        self.fields["pending"].label_from_instance = lambda p: (  # type: ignore[attr-defined]
            f"{p.user} — case #{p.case.number} ({p.case.event.name})"
        )


class KitGrantForm(forms.Form):
    kit = kit_field()
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
        super().__init__(*args, **kwargs)
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
            "organisation": organisation,
            "pending_form": pending_form,
            "grant_form": grant_form,
            "has_pending": pending_form.fields["pending"].queryset.exists(),  # type: ignore[attr-defined]
        },
        status=status,
    )


@never_cache
@sensitive_post_parameters("kit")
@staff_view("orgs.use_recovery_kit")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_kit(request, organisation):
    """Show the kit again, printable, to whoever proves they have it."""
    form = KitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            kit = recovery.recovery_kit_show(
                actor=request.user, organisation=organisation, kit_text=form.cleaned_data["kit"]
            )
        except RecoveryKitError as e:
            _kit_error(form, e)
        else:
            return render(
                request,
                "orgs/recovery/kit.html",
                {"organisation": organisation, "kit": kit, "new": False},
            )
    return render(
        request,
        "orgs/recovery/kit_form.html",
        {"organisation": organisation, "form": form},
        status=400 if form.errors else 200,
    )


# One request re-wraps for at most this long, then shows progress; the chair
# pastes the kit again to continue (it is never kept between requests).
ROTATION_TIME_BUDGET = 20.0


@never_cache
@sensitive_post_parameters("kit")
@staff_view("orgs.use_recovery_kit")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_rotate(request, organisation):
    form = KitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rotation = recovery.recovery_rotate(
                actor=request.user,
                organisation=organisation,
                kit_text=form.cleaned_data["kit"],
                time_budget=ROTATION_TIME_BUDGET,
            )
        except (RecoveryKitError, ServiceError) as e:
            _kit_error(form, e)
        else:
            if rotation.new_kit:
                return render(
                    request,
                    "orgs/recovery/kit.html",
                    {
                        "organisation": organisation,
                        "kit": rotation.new_kit,
                        "new": True,
                        "rotation": rotation,
                    },
                )
            messages.info(
                request,
                f"{rotation.done} of {rotation.total} cases re-wrapped. Paste the current "
                "kit again to continue.",
            )
            return redirect("recovery-rotate", organisation.slug)
    return render(
        request,
        "orgs/recovery/rotate.html",
        {
            "organisation": organisation,
            "form": form,
            "rotation": recovery.rotation_status(organisation=organisation),
        },
        status=400 if form.errors else 200,
    )
