"""The one error body of the API: every problem of an input is answered, each under its field."""

from wangge.campaigns.forms import AnswerErrors
from wangge.core.errors import DomainError, api_exception_handler


def test_a_domain_error_names_its_field():
    response = api_exception_handler(DomainError("Unknown category.", field="category"), {})
    assert response.status_code == 400
    assert response.data == {"error": {"code": "invalid", "message": "Unknown category.",
                                       "fields": {"category": ["Unknown category."]}}}


def test_answers_that_break_a_form_in_several_places_are_all_answered():
    problems = [("members[0].id_number", "Not a valid ID number."), ("members[1].phone", "Not a phone number."),
                ("fever", "This answer is required.")]
    response = api_exception_handler(AnswerErrors(problems), {})
    assert response.status_code == 400
    body = response.data["error"]
    assert body["fields"] == {path: [message] for path, message in problems}
    assert body["message"] == "Not a valid ID number."


def test_forbidden_is_403_without_fields():
    response = api_exception_handler(DomainError("Your role may not report events.", code="forbidden"), {})
    assert response.status_code == 403 and response.data["error"]["fields"] == {}
