"""/api/v1/campaigns/…: one router for the campaigns app. Add a viewset with one `router.register` line (ids in our
detail routes are digits only, so a fixed path such as forms/upload/ beside them is never taken for an id)."""

from rest_framework.routers import SimpleRouter

from .campaigns import CampaignViewSet, FormViewSet
from .ledger import urlpatterns as ledger_urls
from .visits import ProposalViewSet, VisitViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("visits", VisitViewSet, basename="campaign-visit")
router.register("proposals", ProposalViewSet, basename="campaign-proposal")
router.register("forms", FormViewSet, basename="campaign-form")

urlpatterns = [*ledger_urls, *router.urls]
