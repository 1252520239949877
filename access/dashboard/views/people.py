"""People: search, add, edit, consent, list membership and enrollment photos with what the pipeline saw.

Every change goes through the same models and services as the API (`access.people.services` for photos and
consent withdrawal); a bad form or photo re-renders the page with the reason and a 4xx, storing nothing.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.generic import CreateView, DetailView, ListView, UpdateView, View
from django.views.generic.detail import SingleObjectMixin

from access.core.images import rgb_pixels
from access.people import services
from access.people.filtersets import PersonFilterSet
from access.people.models import Consent, ConsentRequired, FaceSample, Person
from access.people.overlay import (
    PARSING_COLOURS,
    FaceOverlay,
    drawing_jpeg,
    png,
    read_overlay,
    render_overlay,
)
from access.watchlists.forms import AllowEntryForm, BlockEntryForm, MissingEntryForm
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry
from access.watchlists.services import with_list_status
from recognition.config import EngineConfig, QualityConfig

from .access import DashboardAccess, model_permission
from .people_forms import ConsentForm, PersonForm, SampleUploadForm, for_person

PEOPLE_PER_PAGE = 25


@dataclass(frozen=True)
class ListKind:
    """One of the lists a person can be on, as the person page adds to and removes from it."""

    model: type[Model]
    form: type[ModelForm]
    title: str
    shown_with: tuple[str, ...] = ()  # what the page shows of each entry from other tables

    def permission(self, action: str) -> str:
        return model_permission(self.model, action)

    def entries(self, person: Person) -> QuerySet:
        return self.model.objects.filter(person=person).prefetch_related(*self.shown_with)


LISTS = {
    "allow": ListKind(AllowEntry, AllowEntryForm, "allow list", ("door", "door_group", "schedule")),
    "block": ListKind(BlockEntry, BlockEntryForm, "block list"),
    "missing": ListKind(MissingEntry, MissingEntryForm, "missing list"),
}


class PersonListView(DashboardAccess, ListView):
    """Everyone, searchable by name or external ID (the API's filter), with consent, photos and lists."""
    section = "people"

    permission_required = "people.view_person"
    template_name = "dashboard/people/list.html"
    context_object_name = "people"
    paginate_by = PEOPLE_PER_PAGE

    def get_queryset(self) -> QuerySet:
        people = Person.objects.annotate(
            consented=Exists(Consent.objects.filter(person=OuterRef("pk"))),
            enrolled_samples=Count("samples", filter=Q(samples__state=FaceSample.State.ENROLLED)),
        )
        people = with_list_status(people, timezone.now()).order_by("name", "external_id")
        self.filterset = PersonFilterSet(self.request.GET, queryset=people)
        return self.filterset.qs if self.filterset.is_valid() else people.none()

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        query = self.request.GET.copy()
        query.pop("page", None)
        return {
            **super().get_context_data(**kwargs),
            "search": self.request.GET.get("q", ""),
            "filter_errors": self.filterset.errors,
            "page_query": query.urlencode(),
        }

    def render_to_response(self, context: dict[str, Any], **kwargs) -> HttpResponse:
        if self.filterset.errors:
            kwargs["status"] = 400
        return super().render_to_response(context, **kwargs)


class PersonCreateView(DashboardAccess, CreateView):
    """A new person, and their consent when it is given now."""
    section = "people"

    permission_required = "people.add_person"
    template_name = "dashboard/people/form.html"
    form_class = PersonForm

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        consent_form = kwargs.pop("consent_form", None) or self._consent_form()
        return {**super().get_context_data(**kwargs), "consent_form": consent_form}

    def _consent_form(self) -> ConsentForm:
        data = self.request.POST if self.request.method == "POST" else None
        return ConsentForm(data, prefix="consent", optional=True)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.object = None
        form, consent_form = self.get_form(), self._consent_form()
        if not (form.is_valid() and consent_form.is_valid()):
            context = self.get_context_data(form=form, consent_form=consent_form)
            return self.render_to_response(context, status=400)
        with transaction.atomic():
            person = form.save()
            if consent_form.given:
                consent_form.instance.person = person
                consent_form.instance.recorded_by = request.user
                consent_form.save()
        messages.success(request, f"{person.name} was added.")
        return HttpResponseRedirect(reverse("dashboard:person", args=[person.pk]))


class PersonUpdateView(DashboardAccess, UpdateView):
    section = "people"
    permission_required = "people.change_person"
    template_name = "dashboard/people/form.html"
    form_class = PersonForm
    model = Person

    def form_valid(self, form: PersonForm) -> HttpResponse:
        messages.success(self.request, "Changes saved.")
        return super().form_valid(form)

    def form_invalid(self, form: PersonForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def get_success_url(self) -> str:
        return reverse("dashboard:person", args=[self.object.pk])


class PersonView(DashboardAccess, DetailView):
    """One person: consent, lists, and each enrollment photo with its verdict and what the pipeline saw."""
    section = "people"

    permission_required = "people.view_person"
    template_name = "dashboard/people/detail.html"
    context_object_name = "person"

    def get_queryset(self) -> QuerySet:
        return Person.objects.select_related("consent", "consent__recorded_by")

    def get_context_data(self, **forms) -> dict[str, Any]:
        person, user = self.object, self.request.user
        unbound = {
            "consent_form": ConsentForm(),
            "upload_form": SampleUploadForm(),
            **{f"{kind}_form": for_person(list_kind.form, person) for kind, list_kind in LISTS.items()},
        }
        lists = [
            {
                "kind": kind,
                "title": list_kind.title,
                "entries": list_kind.entries(person),
                "form": forms.get(f"{kind}_form") or unbound[f"{kind}_form"],
                "can_add": user.has_perm(list_kind.permission("add")),
                "can_remove": user.has_perm(list_kind.permission("delete")),
                "can_change": user.has_perm(list_kind.permission("change")),
            }
            for kind, list_kind in LISTS.items()
        ]
        samples = person.samples.select_related("uploaded_by")
        limits = EngineConfig.from_env().quality
        return {
            **super().get_context_data(),
            **unbound,
            **forms,
            "consent": getattr(person, "consent", None),
            "lists": lists,
            "samples": [sample_card(sample, limits) for sample in samples],
            "parsing_legend": [
                (name.replace("_", " "), "#{:02x}{:02x}{:02x}".format(*colour))
                for name, colour in PARSING_COLOURS.items()
            ],
            "can_record_consent": user.has_perm("people.add_consent"),
            "can_withdraw_consent": user.has_perm("people.delete_consent"),
            "can_upload": user.has_perm("people.add_facesample"),
            "can_delete_sample": user.has_perm("people.delete_facesample"),
            "can_edit": user.has_perm("people.change_person"),
        }


class PersonActionView(PersonView):
    """A change made from the person page: a POST answered by a redirect back to it, or by the page with the
    form's errors and a 4xx."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.object = self.get_object()
        return self.act(request)

    def act(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def back(self, anchor: str) -> HttpResponse:
        return HttpResponseRedirect(f"{reverse('dashboard:person', args=[self.object.pk])}#{anchor}")

    def refuse(self, status: int = 400, **forms) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**forms), status=status)


class RecordConsentView(PersonActionView):
    permission_required = "people.add_consent"

    def act(self, request: HttpRequest) -> HttpResponse:
        form = ConsentForm(request.POST)
        if hasattr(self.object, "consent"):
            form.add_error(None, "Consent is already recorded for this person.")
            return self.refuse(409, consent_form=form)
        if not form.is_valid():
            return self.refuse(consent_form=form)
        form.instance.person = self.object
        form.instance.recorded_by = request.user
        form.save()
        messages.success(request, "Consent recorded: photos can now be enrolled.")
        return self.back("consent")


class WithdrawConsentView(PersonActionView):
    """Consent withdrawn: every photo and face code of the person is erased with it."""

    permission_required = "people.delete_consent"

    def act(self, request: HttpRequest) -> HttpResponse:
        consent = getattr(self.object, "consent", None)
        if consent is None:
            raise Http404("No consent is recorded for this person.")
        services.withdraw_consent(consent)
        messages.success(request, "Consent withdrawn; every photo and face code of this person was erased.")
        return self.back("consent")


class UploadSampleView(PersonActionView):
    """A photo from a file or the webcam: stored encrypted and queued for enrollment, as the API does."""

    permission_required = "people.add_facesample"

    def act(self, request: HttpRequest) -> HttpResponse:
        form = SampleUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.refuse(upload_form=form)
        try:
            sample = services.add_sample(self.object, form.cleaned_data["image"], uploaded_by=request.user)
        except ConsentRequired as refusal:
            form.add_error(None, str(refusal))
            return self.refuse(409, upload_form=form)
        messages.success(request, "Photo stored; it is being analysed.")
        return self.back(f"sample-{sample.pk}")


class ListEntryView(PersonActionView):
    """A change to the person's entries on the list named in the URL, with that list's permission."""

    action: str

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.list_kind = LISTS.get(kwargs["kind"])
        if self.list_kind is None:
            raise Http404(f"There is no list called {kwargs['kind']!r}.")
        return super().dispatch(request, *args, **kwargs)

    def get_permission_required(self) -> list[str]:
        return [self.list_kind.permission(self.action)]


class AddListEntryView(ListEntryView):
    action = "add"

    def act(self, request: HttpRequest) -> HttpResponse:
        form = for_person(self.list_kind.form, self.object, request.POST)
        if not form.is_valid():
            return self.refuse(**{f"{self.kwargs['kind']}_form": form})
        if isinstance(form.instance, BlockEntry):
            form.instance.added_by = request.user
        form.save()
        messages.success(request, f"Added to the {self.list_kind.title}.")
        return self.back("lists")


class RemoveListEntryView(ListEntryView):
    action = "delete"

    def act(self, request: HttpRequest) -> HttpResponse:
        entry = get_object_or_404(self.list_kind.model, pk=self.kwargs["entry_pk"], person=self.object)
        entry.delete()
        messages.success(request, f"Removed from the {self.list_kind.title}.")
        return self.back("lists")


class SampleView(DashboardAccess, SingleObjectMixin, View):
    permission_required = "people.view_facesample"
    model = FaceSample


class SampleCardView(SampleView):
    """One sample's card, which the person page fetches while the sample is being analysed."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        context = {
            "card": sample_card(self.get_object(), EngineConfig.from_env().quality),
            "can_delete_sample": request.user.has_perm("people.delete_facesample"),
        }
        return TemplateResponse(request, "dashboard/people/_sample.html", context)


class SampleOverlayView(SampleView):
    """The photo around its faces with the box, parsing and keypoints drawn, from what enrollment stored."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        sample = self.get_object()
        faces = stored_overlay(sample)
        with sample.image.open() as photo:
            pixels = rgb_pixels(photo.read())
        return _private_image(drawing_jpeg(render_overlay(pixels, faces)), "image/jpeg")


class SampleChipView(SampleView):
    """The aligned chip of the sample's face number `face` (from 0), as the face coder saw it."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        faces = stored_overlay(self.get_object())
        if not 0 <= kwargs["face"] < len(faces):
            raise Http404(f"The photo has {len(faces)} faces; there is no face {kwargs['face']}.")
        return _private_image(png(faces[kwargs["face"]].chip), "image/png")


class DeleteSampleView(SampleView):
    """A photo and its face code erased; the person page follows."""

    permission_required = "people.delete_facesample"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        sample = self.get_object()
        sample.delete()
        messages.success(request, "Photo and face code erased.")
        return HttpResponseRedirect(f"{reverse('dashboard:person', args=[sample.person_id])}#samples")


def stored_overlay(sample: FaceSample) -> list[FaceOverlay]:
    if not sample.overlay:
        raise Http404("Nothing is stored of what the pipeline saw on this photo.")
    with sample.overlay.open() as stored:
        return read_overlay(stored.read())


def _private_image(data: bytes, content_type: str) -> HttpResponse:
    """A picture of someone's face: kept by no cache."""
    return HttpResponse(data, content_type=content_type, headers={"Cache-Control": "private, no-store"})


@dataclass(frozen=True)
class QualityRow:
    label: str
    value: str
    limit: str
    passed: bool


def quality_rows(figures: dict[str, float], limits: QualityConfig) -> list[QualityRow]:
    """The engine's figures on an enrollment photo beside the limits they were held to."""
    rows = []
    if "face_count" in figures:
        count = int(figures["face_count"])
        rows.append(QualityRow("Faces found", str(count), "exactly 1", count == 1))
    if "face_size" in figures:
        size = figures["face_size"]
        rows.append(QualityRow("Face size", f"{size:.0f} px", f"≥ {limits.min_face_size} px",
                               size >= limits.min_face_size))
    if "sharpness" in figures:
        sharp = figures["sharpness"]
        rows.append(QualityRow("Sharpness", f"{sharp:.0f}", f"≥ {limits.min_sharpness:g}",
                               sharp >= limits.min_sharpness))
    for key, label, limit in (("yaw", "Head turn", limits.max_yaw), ("roll", "Head tilt", limits.max_roll)):
        if key in figures:
            angle = abs(figures[key])
            rows.append(QualityRow(label, f"{angle:.0f}°", f"≤ {limit:g}°", angle <= limit))
    if "occluded" in figures:
        covered = bool(figures["occluded"])
        rows.append(QualityRow("Face covered", "yes" if covered else "no", "no", not covered))
    return rows


def sample_card(sample: FaceSample, limits: QualityConfig) -> dict[str, Any]:
    """What a sample's card shows: its state, the verdict with its figures against `limits`, and what the
    pipeline saw."""
    faces = stored_overlay(sample) if sample.overlay else []
    return {
        "sample": sample,
        "rows": quality_rows(sample.quality, limits),
        "faces": [
            {"index": index, "occlusions": face.occlusions, "parsed": face.parsing is not None}
            for index, face in enumerate(faces)
        ],
        "parsed": any(face.parsing is not None for face in faces),
    }
