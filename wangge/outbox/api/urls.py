from rest_framework.routers import SimpleRouter

from .views import OutboundAddressViewSet, OutboxMessageViewSet

router = SimpleRouter()
router.register("outbound-addresses", OutboundAddressViewSet, basename="outbound-address")
router.register("outbox", OutboxMessageViewSet, basename="outbox-message")

urlpatterns = router.urls
