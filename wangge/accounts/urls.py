from django.contrib.auth import views as auth_views
from django.urls import path

app_name = "accounts"
# Placeholder until the login views with lockout land (accounts/views.py).
urlpatterns = [
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
