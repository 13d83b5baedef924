import io

from django.core.management import call_command


def test_the_openapi_schema_is_valid_and_unambiguous():
    """Clients and fuzzers read /api/schema/: it must validate, and a warning (two components with one name, an
    unresolvable enum name) means some client would get a wrong type."""
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=io.StringIO())
    assert "openapi: 3" in out.getvalue()
