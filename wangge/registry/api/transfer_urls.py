from django.urls import path, re_path

from . import transfer

app_name = "registry-transfer"

urlpatterns = [
    re_path(r"^import/templates/(?P<kind>[a-z]+)\.(?P<fmt>xlsx|csv)$", transfer.TemplateView.as_view(),
            name="template"),
    path("import/<slug:kind>", transfer.ImportView.as_view(), name="import"),
    re_path(r"^export/(?P<kind>[a-z]+)\.(?P<fmt>xlsx|csv)$", transfer.ExportView.as_view(), name="export"),
]
