from django.urls import path

from . import views

app_name = "geo"
urlpatterns = [
    path("", views.map_page, name="map"),
    path("tiles/<str:level>/<int:z>/<int:x>/<int:y>.pbf", views.tile, name="tile"),
]
