import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from wangge.core.testing import make_superuser

pytestmark = pytest.mark.django_db


def test_the_default_ui_language_is_simplified_chinese(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()
    assert "登录" in response.content.decode()


def test_english_is_available(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en")
    assert 'lang="en"' in response.content.decode()
    assert "Log in" in response.content.decode()


def test_api_errors_are_translated(client, settings, district):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(make_superuser())
    response = client.get(reverse("lookup"), {"lon": 116.9, "lat": 36.6, "crs": "utm"})
    assert response.status_code == 400
    with translation.override("zh-hans"):
        expected = gettext("The input is not valid.")
    assert expected != "The input is not valid."  # the catalogue is compiled and has the entry
    assert response.json()["error"]["message"] == expected
