from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("departments", views.DepartmentViewSet, basename="workforce-department")
router.register("memberships", views.MembershipViewSet, basename="workforce-membership")
router.register("posts", views.GridPostViewSet, basename="workforce-post")
router.register("volunteers", views.VolunteerViewSet, basename="workforce-volunteer")

urlpatterns = [
    path("coverage/", views.CoverageView.as_view(), name="workforce-coverage"),
    path("roster/", views.RosterView.as_view(), name="workforce-roster"),
    *router.urls,
]
