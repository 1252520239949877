"""Forms of the people pages. Model forms run the models' own validation (fields, clean() and the database
constraints), as the API's serializers do, so a bad value is a message on the page, never a database error.
The lists' forms are the watchlists' own (`access.watchlists.forms`), with the person fixed by the page."""

from typing import Any, TypeVar

from django import forms

from access.core.images import DecodedImage, check_upload_size, decode_image
from access.people.models import Consent, Person

EntryForm = TypeVar("EntryForm", bound=forms.ModelForm)


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = ["name", "external_id", "status", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class ConsentForm(forms.ModelForm):
    """Consent to biometric processing; the view names the person. On the new-person page it may be left for
    later (`optional`)."""

    class Meta:
        model = Consent
        fields = ["method", "document_reference"]
        labels = {"method": "Consent given by"}

    def __init__(self, *args: Any, optional: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if optional:
            method = self.fields["method"]
            method.required = False
            method.choices = [("", "Not given yet"), *Consent.Method.choices]

    @property
    def given(self) -> bool:
        return bool(self.cleaned_data.get("method"))


def for_person(form_class: type[EntryForm], person: Person, data: Any = None) -> EntryForm:
    """A list entry form whose person is fixed to `person`: not shown, and not taken from what is posted."""
    form = form_class(data, initial={"person": person})
    form.fields["person"].disabled = True
    form.fields["person"].widget = forms.HiddenInput()
    return form


class SampleUploadForm(forms.Form):
    """A photo, from a file or from the webcam (the page puts the captured JPEG into the same field)."""

    image = forms.FileField(label="Photo", widget=forms.FileInput(attrs={"accept": "image/*"}))

    def clean_image(self) -> DecodedImage:
        upload = self.cleaned_data["image"]
        check_upload_size(upload.size)
        return decode_image(upload.read())
