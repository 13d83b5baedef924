"""/openrosa/…: the server URL to give ODK Collect is https://<host>/openrosa (docs/openrosa.md)."""

from django.urls import path, re_path

from . import views

app_name = "openrosa"

urlpatterns = [
    path("formList", views.form_list, name="form-list"),
    path("forms/<int:pk>/form.xml", views.form_download, name="form"),
    path("forms/<int:pk>/manifest", views.manifest, name="manifest"),
    path("forms/<int:pk>/households.csv", views.households, name="households"),
    path("submission", views.submission, name="submission"),
    re_path(r"^.*$", views.not_found),
]
