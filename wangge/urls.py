from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("geo/", include("wangge.geo.api.urls")),
    path("accounts/", include("wangge.accounts.api.urls")),
    path("history/", include("wangge.core.history_api")),
    path("registry/", include("wangge.registry.api.transfer_urls")),
    path("registry/", include("wangge.registry.api.urls")),
    path("registry/", include("wangge.registry.api.coverage_urls")),
    path("workforce/", include("wangge.workforce.api.urls")),
    path("cases/", include("wangge.cases.api.urls")),
    path("campaigns/", include("wangge.campaigns.api.urls")),
    path("kpi/", include("wangge.kpi.api.urls")),
    path("", include("wangge.outbox.api.urls")),
]

urlpatterns = [
    # One login for people, with the lockout that treats unknown usernames like known ones.
    path("admin/login/", RedirectView.as_view(pattern_name="accounts:login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    # ODK Collect / Enketo: the server URL is https://<host>/openrosa (docs/openrosa.md).
    path("openrosa/", include("wangge.integrations.openrosa.urls")),
    path("accounts/", include("wangge.accounts.urls")),
    path("registry/map/", include("wangge.registry.map_urls")),
    path("registry/import/", include("wangge.registry.import_urls")),
    path("", include("wangge.core.urls")),
    path("registry/", include("wangge.registry.urls")),
    path("cases/", include("wangge.cases.urls")),
    path("campaigns/", include("wangge.campaigns.urls")),
    path("kpi/", include("wangge.kpi.urls")),
    path("", include("wangge.geo.urls")),
    path("", include("wangge.registry.coverage_urls")),
]
