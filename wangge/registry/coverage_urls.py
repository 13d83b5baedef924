from django.urls import path

from . import coverage_views

app_name = "registry_coverage"
urlpatterns = [
    path("registry/coverage/", coverage_views.coverage_page, name="coverage"),
]
