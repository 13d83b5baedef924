import pytest

from wangge.core.testing import load_test_district


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database starts with the small demo district, loaded once (kept with --reuse-db)."""
    with django_db_blocker.unblock():
        load_test_district()


@pytest.fixture
def district(db):
    from wangge.geo.models import Generation

    return Generation.objects.get(state=Generation.State.ACTIVE)


@pytest.fixture(autouse=True)
def english_messages(settings):
    """Tests read messages in English; the default UI language (zh-hans) has its own tests."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
