"""HTML forms for the lists, for the dashboard: the models' own validation (clean() and the database
constraints) runs on every save, as it does behind the API's serializers, and schedules go through
`replace_schedule`."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from . import services
from .models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow

LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME_OF_DAY = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class AllowEntryForm(forms.ModelForm):
    """An allow entry with one weekly window on the days ticked (none ticked: at any hour)."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=ScheduleWindow.Weekday.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Days",
        help_text="Leave every day unticked to allow at any hour.",
    )
    starts_at = forms.TimeField(required=False, widget=TIME_OF_DAY, label="From")
    ends_at = forms.TimeField(required=False, widget=TIME_OF_DAY, label="Until", help_text="Exclusive.")

    class Meta:
        model = AllowEntry
        fields = ["person", "door", "door_group", "valid_from", "valid_until", "note"]
        widgets = {"valid_from": LOCAL_DATETIME, "valid_until": LOCAL_DATETIME}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept_schedule: list[ScheduleWindow] = []
        if self.instance.pk is None:
            return
        # An entry changes hands only by a new entry: the person stays.
        self.fields["person"].disabled = True
        windows = list(self.instance.schedule.all())
        hours = {(window.starts_at, window.ends_at) for window in windows}
        if len(hours) == 1:
            (starts_at, ends_at), = hours
            self.initial.update(
                weekdays=[window.weekday for window in windows], starts_at=starts_at, ends_at=ends_at
            )
        else:
            # Hours that differ from day to day (given through the API) do not fit one window: left empty,
            # they are kept; filled in, they replace them.
            self.kept_schedule = windows

    def clean(self) -> dict:
        cleaned = super().clean()
        days, starts_at, ends_at = cleaned.get("weekdays"), cleaned.get("starts_at"), cleaned.get("ends_at")
        if days and (starts_at is None or ends_at is None):
            raise ValidationError("Give the hours (from and until) for the days ticked.")
        if not days and (starts_at is not None or ends_at is not None):
            raise ValidationError("Tick the days the hours apply to, or clear the hours.")
        if days and ends_at <= starts_at:
            raise ValidationError("The hours must end after they start; a night shift is two entries.")
        return cleaned

    @property
    def schedule(self) -> list[dict]:
        starts_at, ends_at = self.cleaned_data["starts_at"], self.cleaned_data["ends_at"]
        days = self.cleaned_data["weekdays"]
        return [{"weekday": day, "starts_at": starts_at, "ends_at": ends_at} for day in days]

    @property
    def schedule_changed(self) -> bool:
        return self.instance.pk is None or bool({"weekdays", "starts_at", "ends_at"} & set(self.changed_data))

    @transaction.atomic
    def save(self) -> AllowEntry:
        changed = self.schedule_changed  # asked before saving gives the new entry its key
        entry = super().save()
        if changed:
            services.replace_schedule(entry, self.schedule)
        return entry


class BlockEntryForm(forms.ModelForm):
    """The view sets `instance.added_by` to whoever submits it, as the API does."""

    class Meta:
        model = BlockEntry
        fields = ["person", "reason", "expires_at"]
        widgets = {"reason": forms.TextInput, "expires_at": LOCAL_DATETIME}


class EmailListField(forms.CharField):
    """E-mail addresses separated by commas, spaces or new lines, as a list."""

    def to_python(self, value: str | None) -> list[str]:
        return (super().to_python(value) or "").replace(",", " ").split()

    def prepare_value(self, value) -> str:
        return ", ".join(value) if isinstance(value, list) else value

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for address in value:
            try:
                validate_email(address)
            except ValidationError as error:
                raise ValidationError(f"{address} is not an e-mail address.") from error


class MissingEntryForm(forms.ModelForm):
    alert_recipients = EmailListField(
        required=False, label="Alert recipients", help_text="E-mail addresses, separated by commas."
    )

    class Meta:
        model = MissingEntry
        fields = ["person", "case_number", "reporting_contact", "alert_recipients", "reported_at"]
        widgets = {"reporting_contact": forms.Textarea(attrs={"rows": 2}), "reported_at": LOCAL_DATETIME}
