from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views
from .categories import CategoryViewSet
from .events import EventViewSet
from .notifications import NotificationViewSet

router = SimpleRouter()
router.register("events", EventViewSet, basename="event")
router.register("categories", CategoryViewSet, basename="category")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("calendar/", views.CalendarYearsView.as_view(), name="calendar-years"),
    path("calendar/due/", views.DueView.as_view(), name="calendar-due"),
    path("calendar/<int:year>/", views.CalendarYearView.as_view(), name="calendar-year"),
    *router.urls,
]
