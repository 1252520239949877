from rest_framework.routers import SimpleRouter

from .views import DoorGroupViewSet, DoorViewSet

router = SimpleRouter()
router.register("doors", DoorViewSet)
router.register("door-groups", DoorGroupViewSet)

urlpatterns = router.urls
