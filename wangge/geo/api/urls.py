from django.urls import path
from rest_framework.routers import SimpleRouter

from . import batch, transfer, views

router = SimpleRouter()
router.register("generations", views.GenerationViewSet, basename="generation")
router.register("areas", views.AreaViewSet, basename="area")

urlpatterns = [
    path("lookup/batch", batch.BatchLookupView.as_view(), name="lookup-batch"),
    path("lookup", views.LookupView.as_view(), name="lookup"),
    path("generations/<int:pk>/import", transfer.GenerationImportView.as_view(), name="generation-import"),
    path("generations/<int:pk>/export", transfer.GenerationExportView.as_view(), name="generation-export"),
    *router.urls,
]
