from django import forms

from ombud.accounts.models import Membership, Role
from ombud.orgs.models import EVENT_EDITABLE_FIELDS, Event


class EventForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = EVENT_EDITABLE_FIELDS
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {
            "slug": "Part of the public report address: /<organisation>/<slug>/report/",
            "emergency_number": "Shown first on the report page, e.g. “112” or “911”.",
        }

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        clash = Event.objects.filter(organisation=self.organisation, slug=slug)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another event already uses this address.")
        return slug

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("starts_on")
            and cleaned.get("ends_on")
            and cleaned["ends_on"] < cleaned["starts_on"]
        ):
            self.add_error("ends_on", "The event cannot end before it starts.")
        return cleaned

    def _post_clean(self):
        # The service validates and saves; the form must not touch the instance.
        pass


class MemberAddForm(forms.Form):
    email = forms.EmailField()
    display_name = forms.CharField(label="Name shown to the team and reporters", max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class MemberRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]
