"""Issue 12 item 2: one adapter each for screens, the REST API, the CLI and jobs, and a
refusal reads the same through all of them: the same translated message, and a status
(HTTP code, exit code) that says the same kind of refusal."""

from __future__ import annotations

from datetime import date

import pytest
from flask import get_flashed_messages

from conftest import run_flask
from factories import make_tree
from helpers import vietnamese
from jobs import JobRefused, run_in_job
from webapp.cli_support import EXIT_CODES, Refused, run_in_cli
from webapp.domain.commands import CLASH
from webapp.domain.errors import (
    N_,
    ConcurrentChange,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from webapp.views.adapters import run_on_screen

REFUSALS = {
    "invalid": ValidationFailed({"effective_on": [(N_("The date cannot be in the future."), {})]}),
    "not found": NotFound(N_("The member does not exist.")),
    "forbidden": Forbidden(N_("Your role does not allow this action.")),
    "clash": ConcurrentChange(CLASH),
    "refused": DomainError(N_("Only a queued or running report can be cancelled.")),
}


@pytest.mark.parametrize("kind", REFUSALS)
def test_every_adapter_answers_a_refusal_alike(app, kind):
    error = REFUSALS[kind]
    message = vietnamese(app, error.message, **error.params)

    def refused():
        raise error

    with app.test_request_context():
        assert run_on_screen(refused, "never shown") is False
        assert get_flashed_messages(with_categories=True) == [("danger", message)]

        # Any REST API: the adapter is on their base class.
        api = next(v for v in app.appbuilder.baseviews if hasattr(v, "answering_domain_errors"))
        response = api.answering_domain_errors(refused)
        assert response.status_code == error.status_code
        body = response.json["message"]
        assert body == ({"effective_on": [message]} if kind == "invalid" else message)

        with pytest.raises(Refused) as cli:
            run_in_cli(refused)
        assert message in cli.value.message
        assert cli.value.exit_code == EXIT_CODES[error.status_code] != 0

        with pytest.raises(JobRefused, match=message):
            run_in_job(refused)


def test_the_same_report_refusal_on_the_screen_and_on_the_command_line(
    app, admin_client, db_session
):
    tree = make_tree(db_session)
    db_session.commit()
    message = vietnamese(app, "The end of the period is before its start.")
    page = admin_client.post(
        "/reports/request",
        data={
            "report": "increase-decrease",
            "unit_id": tree["P"].id,
            "output_format": "pdf",
            "from": "01/06/2024",
            "to": "01/01/2024",
        },
    )
    assert page.status_code == 200 and message in page.text
    cli = run_flask(
        "report", "increase-decrease", "--unit", "P", "--from", "2024-06-01", "--to", "2024-01-01"
    )
    assert cli.returncode == EXIT_CODES[422] and message in cli.stderr


def test_the_same_merge_refusal_on_the_screen_and_through_the_api(
    app, admin_client, api_token, db_session
):
    tree = make_tree(db_session)
    db_session.commit()
    message = vietnamese(app, "A unit cannot be merged into itself or its own subunit.")
    page = admin_client.post(
        f"/unitmodelview/merge/{tree['D1'].id}",
        data={"into_id": tree["C1"].id, "effective_on": date.today().strftime("%d/%m/%Y")},
    )
    assert page.status_code == 200 and message in page.text
    api = admin_client.post(
        f"/api/v1/units/{tree['D1'].id}/merge",
        json={"into": tree["C1"].id, "effective_on": date.today().isoformat()},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert api.status_code == 422 and api.json["message"] == {"into_id": [message]}
