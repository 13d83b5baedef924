from django.urls import path

from . import views

app_name = "kpi"
urlpatterns = [
    path("", views.kpi_page, name="page"),
]
