from django.urls import path

from . import views

urlpatterns = [
    path("", views.KpiView.as_view(), name="kpi-figures"),
    path("red-black/", views.RedBlackView.as_view(), name="kpi-red-black"),
    path("export.xlsx", views.ExportView.as_view(), name="kpi-export"),
]
