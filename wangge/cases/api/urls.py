from django.urls import path

from . import views

urlpatterns = [
    path("calendar/", views.CalendarYearsView.as_view(), name="calendar-years"),
    path("calendar/due/", views.DueView.as_view(), name="calendar-due"),
    path("calendar/<int:year>/", views.CalendarYearView.as_view(), name="calendar-year"),
]
