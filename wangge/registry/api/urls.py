from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("courtyards", views.CourtyardViewSet, basename="courtyard")
router.register("buildings", views.BuildingViewSet, basename="building")
router.register("houses", views.HouseViewSet, basename="house")
router.register("households", views.HouseholdViewSet, basename="household")
router.register("persons", views.PersonViewSet, basename="person")
router.register("person-tags", views.PersonTagViewSet, basename="person-tag")
router.register("tag-types", views.TagTypeViewSet, basename="tag-type")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("party-organizations", views.PartyOrganizationViewSet, basename="party-organization")

urlpatterns = [
    path("stats/", views.StatsView.as_view(), name="registry-stats"),
    *router.urls,
]
