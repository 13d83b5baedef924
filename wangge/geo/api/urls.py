from django.urls import path
from rest_framework.routers import SimpleRouter

from . import transfer, views

router = SimpleRouter()
router.register("generations", views.GenerationViewSet, basename="generation")
router.register("areas", views.AreaViewSet, basename="area")

urlpatterns = [
    path("lookup", views.LookupView.as_view(), name="lookup"),
    path("generations/<int:pk>/import", transfer.GenerationImportView.as_view(), name="generation-import"),
    path("generations/<int:pk>/export", transfer.GenerationExportView.as_view(), name="generation-export"),
    *router.urls,
]
