from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("generations", views.GenerationViewSet, basename="generation")
router.register("areas", views.AreaViewSet, basename="area")

urlpatterns = [
    path("lookup", views.LookupView.as_view(), name="lookup"),
    *router.urls,
]
