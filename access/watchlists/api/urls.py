from rest_framework.routers import SimpleRouter

from .views import AllowEntryViewSet, BlockEntryViewSet, MissingEntryViewSet

router = SimpleRouter()
router.register("allow-entries", AllowEntryViewSet)
router.register("block-entries", BlockEntryViewSet)
router.register("missing-entries", MissingEntryViewSet)

urlpatterns = router.urls
