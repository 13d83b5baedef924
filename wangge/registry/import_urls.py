from django.urls import path, re_path

from . import import_views

app_name = "registry-import"

urlpatterns = [
    path("", import_views.import_page, name="page"),
    path("runs/<int:pk>/", import_views.run_page, name="run"),
    path("runs/<int:pk>/status", import_views.run_status, name="run-status"),
    re_path(r"^errors\.(?P<fmt>xlsx|csv)$", import_views.error_report_download, name="errors"),
    re_path(r"^templates/(?P<kind>[a-z]+)\.(?P<fmt>xlsx|csv)$", import_views.template_download, name="template"),
]
