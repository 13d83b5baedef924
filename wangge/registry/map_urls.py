from django.urls import path

from . import map_views

app_name = "registry-map"
urlpatterns = [
    path("stats.json", map_views.stats, name="stats"),
    path("buildings/<int:z>/<int:x>/<int:y>.pbf", map_views.building_tile, name="building-tile"),
    path("buildings/<int:pk>.json", map_views.building, name="building"),
]
