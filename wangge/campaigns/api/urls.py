"""/api/v1/campaigns/…: one router for the campaigns app. Add a viewset with one `router.register` line (ids in our
detail routes are digits only, so a fixed path such as forms/upload/ beside them is never taken for an id)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .campaigns import CampaignViewSet, FormViewSet
from .forms import XFormView, XLSFormDownloadView, XLSFormUploadView
from .ledger import urlpatterns as ledger_urls
from .lists import PushedListViewSet, PushedRowViewSet
from .lists import urlpatterns as list_urls
from .visits import ProposalViewSet, VisitViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("visits", VisitViewSet, basename="campaign-visit")
router.register("proposals", ProposalViewSet, basename="campaign-proposal")
router.register("forms", FormViewSet, basename="campaign-form")
router.register("lists", PushedListViewSet, basename="pushed-list")
router.register("list-rows", PushedRowViewSet, basename="pushed-row")

form_urls = [
    path("forms/upload/", XLSFormUploadView.as_view(), name="campaign-form-upload"),
    path("form-versions/<int:pk>/xform/", XFormView.as_view(), name="campaign-form-version-xform"),
    path("form-versions/<int:pk>/xlsform/", XLSFormDownloadView.as_view(), name="campaign-form-version-xlsform"),
]

urlpatterns = [*form_urls, *ledger_urls, *list_urls, *router.urls]
