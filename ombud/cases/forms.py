from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from ombud.accounts.models import User
from ombud.cases.models import (
    TRANSITIONS,
    Decision,
    DecisionResponse,
    ReportedPersonMessage,
    Status,
)
from ombud.cases.services.base import MESSAGE_MAX
from ombud.cases.services.workflow import MANUAL_STATUSES, MEETING_SECTIONS
from ombud.orgs.models import ResponseType


class CaseForm(forms.Form):
    """A form about one case: querysets are limited to what that case allows."""

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case

    def error_summary(self) -> str:
        """What went wrong, for the message at the top of the page: some action
        forms are a bare button, hidden, or in a closed panel, and show no
        errors of their own."""
        problems = [
            str(error) if name == NON_FIELD_ERRORS else f"{self[name].label}: {error}"
            for name, errors in self.errors.items()
            for error in errors
        ]
        return "That did not work. " + " ".join(problems)


class ReplyForm(CaseForm):
    body = forms.CharField(
        label="Message to the reporter",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="The reporter reads it with their receipt. Do not name the reported "
        "person's other reporters or witnesses.",
        error_messages={"required": "Write a message before sending."},
    )
    is_followup = forms.BooleanField(
        label="This is the follow-up with the reporter (the procedure's one-week follow-up)",
        required=False,
    )


def followup_template(case) -> str:
    """The procedure's three points of a follow-up, for the responder to edit."""
    return (
        "Hello,\n\n"
        "Thank you again for your report. We want to let you know how it went.\n\n"
        "1. The incident response team has discussed your report.\n"
        "2. We found that it [was / was not / could not be determined to be] "
        "a violation of the Code of Conduct.\n"
        "3. What we did: [actions taken, or: no further action].\n\n"
        "If you have questions or anything to add, you can reply here.\n\n"
        f"— The incident response team (case {case.number})"
    )


class StatusForm(CaseForm):
    status = forms.ChoiceField(choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS[self.case.status] & MANUAL_STATUSES
        self.fields["status"].choices = [(s, Status(s).label) for s in Status if s in allowed]  # type: ignore[attr-defined]


class AssignForm(CaseForm):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody")  # type: ignore[var-annotated]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(grants__case=self.case).order_by(  # type: ignore[attr-defined]
            "display_name"
        )
        self.fields["assignee"].initial = self.case.assignee_id


class FlagsForm(CaseForm):
    retaliation_concern = forms.BooleanField(label="Retaliation or safety concern", required=False)
    law_enforcement_requested = forms.BooleanField(
        label="The reporter asked us to contact law enforcement",
        required=False,
        help_text="Recorded with its time. Nobody contacts police unless the reporter asks.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retaliation_concern"].initial = self.case.retaliation_concern
        self.fields["law_enforcement_requested"].initial = bool(
            self.case.law_enforcement_requested_at
        )


class NoteForm(CaseForm):
    text = forms.CharField(
        label="Internal note (never shown to the reporter)",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write the note before saving."},
    )


class MeetingForm(CaseForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in MEETING_SECTIONS:
            self.fields[key] = forms.CharField(
                label=label,
                required=False,
                max_length=MESSAGE_MAX,
                widget=forms.Textarea(attrs={"rows": 2}),
            )


class DecisionForm(CaseForm):
    violation = forms.ChoiceField(
        label="Was it a violation of the Code of Conduct?",
        choices=Decision.Violation.choices,
        widget=forms.RadioSelect,
    )
    rationale = forms.CharField(
        label="Rationale", max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        owners = User.objects.filter(grants__case=self.case).order_by("display_name")
        self.response_rows = []
        for response_type in ResponseType.objects.filter(
            organisation_id=self.case.organisation_id, retired=False
        ):
            chosen = forms.BooleanField(label=str(response_type), required=False)
            owner = forms.ModelChoiceField(
                label=f"Who does “{response_type}”", queryset=owners, required=False
            )
            self.fields[f"response_{response_type.pk}"] = chosen
            self.fields[f"owner_{response_type.pk}"] = owner
            self.response_rows.append(
                (
                    response_type,
                    self[f"response_{response_type.pk}"],
                    self[f"owner_{response_type.pk}"],
                )
            )

    def clean(self):
        cleaned = super().clean()
        # A ticked response the form no longer offers (retired since the page
        # was loaded, or never in this organisation's catalog) is refused
        # rather than silently left out of the decision.
        offered = {f"response_{rt.pk}" for rt, _, _ in self.response_rows}
        if any(k.startswith("response_") and k not in offered for k in self.data):
            raise forms.ValidationError(
                "A response you chose is no longer in the response catalog (it may have "
                "been retired). Check the responses and record the decision again."
            )
        return cleaned

    def responses(self):
        return [
            (rt, self.cleaned_data.get(f"owner_{rt.pk}"))
            for rt, _, _ in self.response_rows
            if self.cleaned_data.get(f"response_{rt.pk}")
        ]


class ApproveForm(CaseForm):
    decision = forms.ModelChoiceField(queryset=None)  # type: ignore[var-annotated]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].queryset = Decision.objects.filter(case=self.case, is_final=False)  # type: ignore[attr-defined]


class ResponseDoneForm(CaseForm):
    response = forms.ModelChoiceField(queryset=None)  # type: ignore[var-annotated]
    done = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["response"].queryset = DecisionResponse.objects.filter(decision__case=self.case)  # type: ignore[attr-defined]


class AppealForm(CaseForm):
    statement = forms.CharField(
        label="The appeal, in the reported person's words or as summarised",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DashboardFilterForm(forms.Form):
    """GET filters; anything unknown is ignored rather than an error."""

    event = forms.ModelChoiceField(queryset=None, required=False, empty_label="All events")  # type: ignore[var-annotated]
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Anyone")  # type: ignore[var-annotated]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = organisation.events.all()  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__organisation=organisation
        ).order_by("display_name")


class ReportedMessageForm(CaseForm):
    to = forms.EmailField(label="The reported person's email address")
    body = forms.CharField(
        label="Message to the reported person",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Anonymise: nothing that tells them who reported.",
    )
    identifying_ok = forms.BooleanField(
        label="The reporter agreed to be named in this message", required=False
    )


class ReportedApproveForm(CaseForm):
    message = forms.ModelChoiceField(queryset=None)  # type: ignore[var-annotated]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["message"].queryset = ReportedPersonMessage.objects.filter(  # type: ignore[attr-defined]
            case=self.case, sent_at__isnull=True
        )
