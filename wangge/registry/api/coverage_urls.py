from django.urls import path

from . import coverage

urlpatterns = [
    path("coverage/", coverage.CoverageView.as_view(), name="registry-coverage"),
    path("coverage/records/", coverage.CoverageRecordsView.as_view(), name="registry-coverage-records"),
]
