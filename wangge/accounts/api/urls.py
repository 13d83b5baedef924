from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "accounts-api"

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
