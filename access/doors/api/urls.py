from rest_framework.routers import SimpleRouter

from .views import DoorCommandViewSet, DoorGroupViewSet, DoorViewSet

router = SimpleRouter()
router.register("doors", DoorViewSet)
router.register("door-groups", DoorGroupViewSet)
router.register("door-commands", DoorCommandViewSet)

urlpatterns = router.urls
