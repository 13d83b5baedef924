import pytest

from wangge.core.testing import load_test_district


def pytest_collection_modifyitems(items):
    """Every test that asks for a committing database belongs in the second session (see the Makefile): a test
    that forgets the marker would empty the database under the tests that run after it."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        committing = (marker is not None and marker.kwargs.get("transaction")) or any(
            name in getattr(item, "fixturenames", ()) for name in ("live_server", "transactional_db"))
        if committing and not (item.get_closest_marker("browser") or item.get_closest_marker("transactional")):
            raise pytest.UsageError(f"{item.nodeid} commits for real: mark it transactional (or browser)")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database starts with the small demo district, loaded once (kept with --reuse-db)."""
    with django_db_blocker.unblock():
        load_test_district()


@pytest.fixture
def district(db):
    """The active generation of the small demo district (loaded once per test database by django_db_setup)."""
    from wangge.geo.models import Generation

    return Generation.objects.get(state=Generation.State.ACTIVE)


@pytest.fixture(autouse=True)
def fresh_reference_tables():
    """Each test reads the categories, the routing table and the calendar afresh: an edit an earlier test rolled
    back sends no signal, and must not stay in this process's memory."""
    from wangge.core.refcache import clear_all_here

    clear_all_here()


@pytest.fixture(autouse=True)
def english_messages(settings):
    """Tests read messages in English; the default UI language (zh-hans) has its own tests."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright (no browser download); skipped where it is not installed."""
    from pathlib import Path

    from wangge.core.testing import CHROMIUM, CHROMIUM_ARGS

    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
