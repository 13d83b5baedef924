from django.urls import path

from . import views

app_name = "campaigns"
urlpatterns = [
    # the grid worker's phone pages
    path("", views.index, name="index"),
    path("<int:pk>/grids/<str:grid_code>/", views.grid, name="grid"),
    path("<int:pk>/households/<int:household>/visit/", views.visit_form, name="visit"),
    # the staff's pages
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/act/", views.act, name="act"),
    path("<int:pk>/flag-rules/", views.add_flag_rule, name="flag-rule-add"),
    path("<int:pk>/ledger/", views.ledger_page, name="ledger"),
    path("<int:pk>/ledger/grids.json", views.ledger_grids, name="ledger-grids"),
    path("<int:pk>/visits/", views.visits, name="visits"),
    path("visits/<int:visit>/", views.visit_detail, name="visit-detail"),
    path("<int:pk>/proposals/", views.proposals, name="proposals"),
    path("proposals/<int:proposal>/review/", views.review_proposal, name="proposal-review"),
    # the header's link, for users who may see or do screening
    path("nav/", views.nav, name="nav"),
]
