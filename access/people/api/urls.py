from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ConsentViewSet, FaceSampleViewSet, PersonViewSet

router = SimpleRouter()
router.register("people", PersonViewSet)
router.register("consents", ConsentViewSet)
router.register("samples", FaceSampleViewSet, basename="facesample")

urlpatterns = [
    path(
        "people/<int:person_pk>/samples/",
        FaceSampleViewSet.as_view({"get": "list", "post": "upload"}),
        name="person-samples",
    ),
    *router.urls,
]
