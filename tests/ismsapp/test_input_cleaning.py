"""Input cleaning (ismsapp/cleaning.py): control characters, dates, ids and JSON depth are refused
with the field named wherever text comes in, never a 500; XLSX exports never fail on stored data."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from ismsapp.cleaning import control_character_problem, data_problems, json_depth_exceeds
from tests.conftest import PASSWORD
from tests.risks import conftest as risk_fixtures

make_risk = risk_fixtures.make_risk


# --- the mechanism itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "multiline", "problem"),
    [
        ("Laptop theft", False, None),
        ("line one\nline two\ttab\r\n", True, None),
        ("line one\nline two", False, "contains a control character (U+000A) at position 8"),
        ("Lapto\x00", False, "contains a control character (U+0000) at position 5"),
        ("title\x01", True, "contains a control character (U+0001) at position 5"),
        ("del\x7f", True, "contains a control character (U+007F) at position 3"),
        ("c1\x85", True, "contains a control character (U+0085) at position 2"),
        ("lone \ud800", True, "contains a control character (U+D800) at position 5"),
        ("émoji 🙂 and ü", False, None),
    ],
)
def test_control_characters_are_found_and_placed(text: str, multiline: bool, problem: str | None) -> None:
    assert control_character_problem(text, multiline=multiline) == problem


def test_only_iso_datetimes_are_checked_for_impossible_offsets() -> None:
    from ismsapp.cleaning import datetime_text_problem

    assert datetime_text_problem("2026-01-01T00:00:00+99:00")
    assert datetime_text_problem("2026-01-01 00:00-2400")
    assert datetime_text_problem("2026-01-01T00:00:00+01:00") is None
    assert datetime_text_problem("Room 1+99:99") is None  # a search text, not a datetime


def test_every_app_form_field_carries_the_validators() -> None:
    """``cleaning.install()`` runs before any form class is defined (field validators are bound
    when the class is built), for ordinary and model forms of every app."""
    from controls.forms import SoAEntryForm
    from evidence.forms import EventFilterForm, SourceForm
    from ismsapp.cleaning import ControlCharacterValidator, DateRangeValidator
    from risks.forms import RiskForm

    for form, name in ((RiskForm, "title"), (EventFilterForm, "host"), (SourceForm, "name")):
        assert ControlCharacterValidator(multiline=False) in form.base_fields[name].validators, (form, name)
    assert ControlCharacterValidator(multiline=True) in RiskForm.base_fields["description"].validators
    for form, name in ((SoAEntryForm, "last_reviewed"), (EventFilterForm, "since")):
        assert DateRangeValidator() in form.base_fields[name].validators, (form, name)


def test_parsed_data_problems_name_the_field_path() -> None:
    data = {"title": "ok", "scale": [{"label": "fine"}, {"label": "bad\x01"}], "bad\x00key": 1}
    problems = data_problems(data)
    assert problems["scale.1.label"] == ["contains a control character (U+0001) at position 3"]
    assert any("field name" in messages[0] for messages in problems.values())


def test_json_depth_is_measured_without_recursion() -> None:
    assert not json_depth_exceeds(b'{"a": [[1, 2], {"b": "[[[[[[[["}]}', 3)
    assert json_depth_exceeds(b"[" * 4 + b"]" * 4, 3)
    assert not json_depth_exceeds(b'"\\"[[[[["', 1)  # brackets inside a string with an escaped quote
    assert json_depth_exceeds(b"[" * 1_000_000, 32)


# --- query parameters (every GET route: tests/test_routes_input.py) ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/api/controls/?q=%00", "/api/controls/?theme=%00", "/controls/2022/soa/?theme=%00", "/controls/2022/soa/?q=%00"],
)
def test_nul_in_the_catalogue_and_soa_filters(url: str, client_for, catalogue) -> None:
    response = client_for("compliance_officer").get(url)
    assert response.status_code == 400
    assert "U+0000" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/events/", "/api/audit-entries/", "/evidence/events/", "/audit-trail/"])
@pytest.mark.parametrize("offset", ["+99:00", "-24:00", "+2400"])
def test_out_of_range_time_zone_offsets_in_since_are_refused(path: str, offset: str, client_for) -> None:
    response = client_for("isms_admin").get(path, {"since": f"2026-01-01T00:00:00{offset}"})
    assert response.status_code == 400, response.status_code
    assert "since" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/events/", "/api/audit-entries/", "/audit-trail/"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00", "9999-12-31T00:00:00"])
def test_dates_outside_the_sane_range_are_refused_in_filters(path: str, value: str, client_for) -> None:
    response = client_for("isms_admin").get(path, {"until": value})
    if path.startswith("/api/"):
        assert response.status_code == 400
        assert "until" in response.json()
    else:  # the page shows the filter form with the error beside the field
        assert "until" in response.context["form"].errors


# --- ids in action URLs ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/risks/abc/accept/",
        "/api/risks/0x1/accept/",
        "/api/risks/%C2%A0/accept/",
        "/api/risk-acceptances/abc/approve/",
        "/api/soa-entries/1.5/confirm-review/",
        "/api/ingestion-jobs/not-a-uuid/",
    ],
)
def test_a_non_integer_id_in_an_action_url_is_a_404(url: str, client_for) -> None:
    response = client_for("risk_owner").post(url, data={}, content_type="application/json")
    assert response.status_code == 404


# --- request bodies: API and forms ----------------------------------------------------------------


@pytest.mark.django_db
def test_deeply_nested_json_is_refused_before_parsing(client_for) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client_for("compliance_officer").post("/api/risks/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 32" in response.content.decode()


@pytest.mark.django_db
def test_an_api_title_with_a_control_character_is_refused_naming_it(client_for, risk_owner, catalogue) -> None:
    from risks.models import Risk

    response = client_for("compliance_officer").post(
        "/api/risks/",
        data={"title": "Laptop\x01theft", "owner": risk_owner.pk, "treatment_option": "modify"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["title"] == ["contains a control character (U+0001) at position 6"]
    assert not Risk.objects.exists()


@pytest.mark.django_db
def test_an_api_date_in_year_one_is_refused(client_for, make_risk) -> None:
    risk = make_risk()
    response = client_for("compliance_officer").patch(
        f"/api/risks/{risk.pk}/", data={"next_review": "0001-01-01"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "next_review" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("scale", [[1, 2, 3], ["low", "high"], [[1], [2]], [None]])
def test_methodology_scale_items_that_are_not_objects_are_refused(scale, client_for, isms_admin) -> None:
    body = {
        "name": "Broken",
        "likelihood_scale": scale,
        "impact_scale": scale,
        "levels": [{"key": "low", "label": "Low", "colour": "#2e7d32"}],
        "matrix": {},
        "appetite": "low",
    }
    answers = {}
    for persona in ("compliance_officer", "isms_admin"):
        response = client_for(persona).post("/api/risk-methodologies/", data=body, content_type="application/json")
        answers[persona] = response.status_code
        if response.status_code == 400:
            assert "likelihood_scale" in response.json()
    assert 400 in answers.values(), answers
    assert set(answers.values()) <= {400, 403}, answers


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [[1, 2], [{"key": ["x"]}], "low"])
def test_methodology_levels_that_are_not_objects_are_refused(levels, client_for) -> None:
    body = {
        "name": "Broken",
        "likelihood_scale": [{"value": 1, "label": "Rare"}],
        "impact_scale": [{"value": 1, "label": "Minor"}],
        "levels": levels,
        "matrix": {"1,1": "low"},
        "appetite": "low",
    }
    response = client_for("compliance_officer").post(
        "/api/risk-methodologies/", data=body, content_type="application/json"
    )
    assert response.status_code in (400, 403)


@pytest.mark.django_db
def test_a_page_form_shows_the_control_character_next_to_the_field(client_for, risk_owner, catalogue) -> None:
    from risks.models import Risk

    response = client_for("compliance_officer").post(
        reverse("risks:create"),
        {"title": "Laptop\x01theft", "owner": risk_owner.pk, "treatment_option": "modify", "description": "a\r\nb"},
    )
    assert response.status_code == 400
    assert "U+0001" in response.content.decode()
    assert response.context["form"].errors["title"]
    assert "description" not in response.context["form"].errors  # line breaks are fine in a text area
    assert not Risk.objects.exists()
    response = client_for("compliance_officer").post(
        reverse("risks:create"), {"title": "two\nlines", "owner": risk_owner.pk, "treatment_option": "modify"}
    )
    assert "U+000A" in " ".join(response.context["form"].errors["title"])  # not in a one-line field


@pytest.mark.django_db
def test_a_page_form_refuses_a_date_in_year_9999(client_for, compliance_officer, catalogue) -> None:
    from controls.models import SoAEntry

    entry = SoAEntry.objects.filter(control__edition="2022").first()
    response = client_for("compliance_officer").post(
        reverse("controls:soa_entry_edit", args=[entry.pk]),
        {"applicable": "on", "last_reviewed": "9999-01-01", "row_version": entry.row_version},
    )
    assert response.status_code == 400
    assert "last_reviewed" in response.context["form"].errors
    entry.refresh_from_db()
    assert entry.last_reviewed != date(9999, 1, 1)


# --- the push endpoint ----------------------------------------------------------------------------


@pytest.fixture
def push_source(isms_admin, settings, tmp_path):
    from evidence import services

    settings.BLOB_ROOT = tmp_path / "blobs"
    source, token = services.create_source(actor=isms_admin, name="push-src", owner=isms_admin)
    return source, token


def _stored_blobs(settings) -> list:
    return [p for p in settings.BLOB_ROOT.rglob("*") if p.is_file()] if settings.BLOB_ROOT.exists() else []


@pytest.mark.django_db
def test_a_nul_in_the_push_filename_is_refused_and_nothing_is_stored(push_source, settings) -> None:
    from evidence.models import IngestionJob

    source, token = push_source
    response = Client().post(
        f"/api/ingest/{source.name}/?format=syslog&filename=a%00b",
        data=b"<38>Jan  5 10:00:00 web1 sshd[42]: hello\n",
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert "filename" in response.json()
    assert not IngestionJob.objects.exists()
    assert _stored_blobs(settings) == []


@pytest.mark.django_db
def test_create_job_refuses_a_control_character_filename_before_storing(push_source, settings) -> None:
    from django.core.exceptions import ValidationError

    from evidence import ingestion

    source, _ = push_source
    with pytest.raises(ValidationError) as refused:
        ingestion.create_job(
            actor=None, source=source, fmt="syslog", stream=io.BytesIO(b"line\n"), filename="x\x00", enqueue=False
        )
    assert "filename" in refused.value.message_dict
    assert _stored_blobs(settings) == []


@pytest.mark.django_db
def test_a_push_without_content_length_is_refused_not_stored_empty(push_source, settings) -> None:
    from evidence.models import IngestionJob

    source, token = push_source
    client = Client()
    # What a chunked request looks like to a WSGI view: no Content-Length, an empty stream
    response = client.generic(
        "POST",
        f"/api/ingest/{source.name}/?format=syslog",
        data=b"",
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert not IngestionJob.objects.exists()


# --- XLSX exports of data stored before the checks ------------------------------------------------


def _all_cells(content: bytes) -> list[str]:
    workbook = load_workbook(io.BytesIO(content))
    return [str(v) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for v in row if v]


@pytest.mark.django_db
def test_register_and_plan_exports_survive_stored_control_characters(make_risk, compliance_officer) -> None:
    from datetime import timedelta

    from risks import services
    from risks.reports import plan_xlsx, register_xlsx

    risk = make_risk(title="Laptop\x01theft\x1f \x7f =cmd")
    services.save_action(
        actor=compliance_officer,
        risk=risk,
        description="Encrypt\x02disks",
        owner=compliance_officer,
        due_date=date.today() + timedelta(days=5),
        status="planned",
    )
    register = _all_cells(register_xlsx(compliance_officer))
    assert "Laptop\ufffdtheft\ufffd \ufffd =cmd" in register
    assert "Encrypt\ufffddisks" in _all_cells(plan_xlsx(compliance_officer))


@pytest.mark.django_db
def test_soa_export_of_a_published_version_holding_a_control_character(catalogue, compliance_officer) -> None:
    from controls.reports import soa_view_for, soa_xlsx
    from controls.services import publish_soa
    from tests.controls.edits import edit_entry, soa_entry

    edit_entry(compliance_officer, soa_entry("2022", "8.15"), implementation_notes="Logs\x01kept\x1b[31m")
    publish_soa(actor=compliance_officer, edition="2022", approver=compliance_officer, approved_on=date(2026, 1, 5))
    for version in (1, None):
        cells = _all_cells(soa_xlsx("2022", soa_view_for("2022", version)))
        assert "Logs\ufffdkept\ufffd[31m" in cells


def test_neutralisation_is_kept_with_the_replacement() -> None:
    from ismsapp.exports import spreadsheet_cell

    assert spreadsheet_cell("=1+1\x01") == "'=1+1\ufffd"
    assert spreadsheet_cell(5) == 5
    assert json.dumps(spreadsheet_cell("tab\tand\nnewline")) == json.dumps("tab\tand\nnewline")


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
def test_a_nul_in_the_user_agent_never_breaks_the_login(risk_owner, password) -> None:
    """django-axes and the session records store the User-Agent: PostgreSQL refuses NUL (was a 500)."""
    client = Client(HTTP_USER_AGENT="evil\x00agent\x01")
    response = client.post(reverse("login"), {"username": "risk_owner", "password": password})
    assert response.status_code in (200, 302)
