"""Evidence sources: creation through the page form and the API (token shown once), who may
create, bad input refused naming the field with nothing saved, token rotation, HTTP push with a
wrong or old token, and the signing key's public fingerprint on the pages."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import integrity, services
from evidence.models import EvidenceSource, IngestionJob
from tests.conftest import PERSONAS, confirm_identity

pytestmark = pytest.mark.django_db

LINE = b"<38>Jan  5 10:00:00 web1 sshd[42]: Accepted password for alice from 192.0.2.7 port 22 ssh2\n"
HOSTILE = '<script>alert("x")</script>'
NON_ADMINS = sorted(set(PERSONAS) - {"isms_admin"})
TOKEN_IN_PAGE = re.compile(rb"<code data-token>(isms_[A-Za-z0-9_-]+)</code>")


def form_data(user, **overrides) -> dict:
    """Valid form input owned by ``user``, with ``overrides``."""
    return {
        "name": "web-prod-1",
        "kind": "linux_host",
        "default_format": "syslog",
        "hosts": "web1.example.test, web2.example.test",
        "owner": user.pk,
        "cadence_minutes": "60",
        "supplier_accounts": "vendor1, vendor2",
        **overrides,
    }


def api_data(user, **overrides) -> dict:
    return {**form_data(user), "owner": user.username, "cadence_minutes": 60, **overrides}


def push(name: str, token: str, body: bytes = LINE):
    return APIClient().post(
        f"/api/ingest/{name}/", data=body, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def admin_api(isms_admin) -> APIClient:
    client = APIClient()
    client.force_authenticate(isms_admin)
    return client


# Each bad value, the field that must be named, and (a part of) the message.
BAD_FORM_INPUT = [
    pytest.param({"name": ""}, "name", "required", id="empty-name"),
    pytest.param({"name": "   "}, "name", "required", id="blank-name"),
    pytest.param({"name": "web prod"}, "name", "no spaces", id="name-with-space"),
    pytest.param({"name": HOSTILE}, "name", "no spaces", id="hostile-name"),
    pytest.param({"name": "n" * 81}, "name", "at most 80", id="oversized-name"),
    pytest.param({"cadence_minutes": "-5"}, "cadence_minutes", "greater than or equal to", id="negative-cadence"),
    pytest.param({"cadence_minutes": "0"}, "cadence_minutes", "between 1 and 527040", id="zero-cadence"),
    pytest.param({"cadence_minutes": "527041"}, "cadence_minutes", "between 1 and 527040", id="over-a-year"),
    pytest.param({"cadence_minutes": "9" * 12}, "cadence_minutes", "less than or equal to", id="absurd-cadence"),
    pytest.param({"cadence_minutes": "often"}, "cadence_minutes", "whole number", id="cadence-not-a-number"),
    pytest.param({"owner": "999999"}, "owner", "valid choice", id="owner-not-a-user"),
    pytest.param({"owner": ""}, "owner", "required", id="no-owner"),
    pytest.param({"kind": "mainframe"}, "kind", "valid choice", id="unknown-kind"),
    pytest.param({"default_format": "pdf"}, "default_format", "valid choice", id="unknown-format"),
    pytest.param({"hosts": "h" * 501}, "hosts", "at most 500", id="oversized-hosts"),
    pytest.param({"supplier_accounts": "a" * 1001}, "supplier_accounts", "at most 1000", id="oversized-suppliers"),
]


class TestCreateWithTheForm:
    url = reverse("evidence:source_create")

    def test_an_admin_creates_a_source_and_sees_its_token_once(self, client_for, isms_admin, risk_owner) -> None:
        client = client_for("isms_admin")
        response = client.post(self.url, form_data(risk_owner))
        assert response.status_code == 201
        source = EvidenceSource.objects.get()
        assert (source.name, source.kind, source.default_format) == ("web-prod-1", "linux_host", "syslog")
        assert source.hosts == "web1.example.test, web2.example.test"
        assert source.owner == risk_owner
        assert source.cadence_minutes == 60
        assert source.supplier_account_list == ["vendor1", "vendor2"]
        token = TOKEN_IN_PAGE.search(response.content).group(1).decode()
        assert source.token_matches(token)
        assert token not in (source.token_hash, source.token_prefix)  # only the hash and prefix are kept
        assert source.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert b"shown <strong>once</strong>" in response.content
        # never again: neither the list, the source page nor the API shows it
        listing = client.get(reverse("evidence:sources"))
        detail_page = client.get(reverse("evidence:source", args=[source.pk]))
        assert listing.status_code == detail_page.status_code == 200
        assert token.encode() not in listing.content
        assert token.encode() not in detail_page.content
        assert f"{source.token_prefix}…".encode() in detail_page.content  # only the prefix, to recognise it
        detail = admin_api(isms_admin).get(f"/api/evidence-sources/{source.pk}/").json()
        assert "token" not in detail
        assert "token_hash" not in detail
        assert token not in str(detail)
        # and the token works for the HTTP push of this source
        assert push(source.name, token).status_code == 202
        assert IngestionJob.objects.filter(source=source, receiver="push").count() == 1

    def test_only_the_admin_sees_the_form(self, client_for) -> None:
        assert b'id="new-source"' in client_for("isms_admin").get(reverse("evidence:sources")).content
        for name in ("compliance_officer", "internal_auditor"):
            page = client_for(name).get(reverse("evidence:sources"))
            assert page.status_code == 200
            assert b'id="new-source"' not in page.content

    @pytest.mark.parametrize("persona", NON_ADMINS)
    def test_other_roles_are_refused(self, client_for, isms_admin, persona) -> None:
        response = client_for(persona).post(self.url, form_data(isms_admin))
        assert response.status_code == 403
        assert not EvidenceSource.objects.exists()

    def test_anonymous_is_sent_to_login(self, isms_admin) -> None:
        response = Client().post(self.url, form_data(isms_admin))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert not EvidenceSource.objects.exists()

    @pytest.mark.parametrize(("overrides", "field", "message"), BAD_FORM_INPUT)
    def test_bad_input_is_refused_naming_the_field(self, client_for, isms_admin, overrides, field, message) -> None:
        services.create_source(actor=isms_admin, name="existing", owner=isms_admin)
        before = EvidenceSource.objects.count()
        response = client_for("isms_admin").post(self.url, form_data(isms_admin, **overrides))
        assert response.status_code == 400
        errors = response.context["form"].errors
        assert list(errors) == [field], errors
        assert message in " ".join(errors[field])
        label = response.context["form"][field].label
        assert f'<p class="error" role="alert">{label}: '.encode() in response.content
        assert b"data-token" not in response.content
        assert EvidenceSource.objects.count() == before

    def test_a_refused_form_is_shown_on_the_full_sources_page(self, client_for, isms_admin) -> None:
        existing, _ = services.create_source(actor=isms_admin, name="existing", owner=isms_admin)
        response = client_for("isms_admin").post(self.url, form_data(isms_admin, cadence_minutes="0"))
        assert response.status_code == 400
        assert [source for source, _fresh in response.context["rows"]] == [existing]
        assert reverse("evidence:source", args=[existing.pk]).encode() in response.content
        assert b"No source yet" not in response.content
        assert reverse("evidence:upload").encode() in response.content
        assert b'value="web-prod-1"' in response.content  # what was typed is kept for correction

    def test_duplicate_name_is_refused(self, client_for, isms_admin) -> None:
        client = client_for("isms_admin")
        assert client.post(self.url, form_data(isms_admin)).status_code == 201
        original = EvidenceSource.objects.get()
        response = client.post(self.url, form_data(isms_admin, hosts="other", cadence_minutes="5"))
        assert response.status_code == 400
        assert "already exists" in " ".join(response.context["form"].errors["name"])
        assert EvidenceSource.objects.count() == 1
        original.refresh_from_db()
        assert (original.hosts, original.cadence_minutes) == ("web1.example.test, web2.example.test", 60)

    def test_hostile_name_is_escaped_when_shown_back(self, client_for, isms_admin) -> None:
        response = client_for("isms_admin").post(self.url, form_data(isms_admin, name=HOSTILE))
        assert response.status_code == 400
        assert HOSTILE.encode() not in response.content
        assert b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in response.content
        assert not EvidenceSource.objects.exists()

    def test_hostile_free_text_is_kept_but_escaped_on_every_page(self, client_for, isms_admin) -> None:
        client = client_for("isms_admin")
        response = client.post(self.url, form_data(isms_admin, hosts=HOSTILE, supplier_accounts=HOSTILE))
        assert response.status_code == 201
        source = EvidenceSource.objects.get()
        assert source.hosts == HOSTILE  # stored as typed
        pages = [
            response,
            client.get(reverse("evidence:sources")),
            client.get(reverse("evidence:source", args=[source.pk])),
        ]
        for page in pages[1:]:
            assert b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.content
        for page in pages:
            assert HOSTILE.encode() not in page.content


class TestCreateWithTheApi:
    url = "/api/evidence-sources/"

    def test_an_admin_creates_a_source_and_gets_its_token_once(self, isms_admin, risk_owner) -> None:
        client = admin_api(isms_admin)
        response = client.post(self.url, api_data(risk_owner, kind="bastion", cadence_minutes=15), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        source = EvidenceSource.objects.get()
        assert body["id"] == source.pk
        assert (body["name"], body["kind"], body["owner"], body["cadence_minutes"]) == (
            "web-prod-1",
            "bastion",
            "risk_owner",
            15,
        )
        assert (source.kind, source.owner, source.cadence_minutes) == ("bastion", risk_owner, 15)
        assert source.hosts == "web1.example.test, web2.example.test"
        assert source.supplier_account_list == ["vendor1", "vendor2"]
        token = body["token"]
        assert token.startswith(body["token_prefix"])
        assert source.token_matches(token)
        assert "token_hash" not in body
        listed = client.get(self.url).json()
        assert token not in str(listed)
        assert token not in str(client.get(f"{self.url}{source.pk}/").json())
        assert push(source.name, token).status_code == 202

    @pytest.mark.parametrize("persona", NON_ADMINS)
    def test_other_roles_are_refused(self, personas, isms_admin, persona) -> None:
        client = APIClient()
        client.force_authenticate(personas[persona])
        response = client.post(self.url, api_data(isms_admin), format="json")
        assert response.status_code == 403
        assert not EvidenceSource.objects.exists()

    def test_anonymous_gets_401(self, isms_admin) -> None:
        response = APIClient().post(self.url, api_data(isms_admin), format="json")
        assert response.status_code == 401
        assert not EvidenceSource.objects.exists()

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            pytest.param({"name": ""}, "name", id="empty-name"),
            pytest.param({"name": "existing"}, "name", id="duplicate-name"),
            pytest.param({"name": HOSTILE}, "name", id="hostile-name"),
            pytest.param({"name": "n" * 81}, "name", id="oversized-name"),
            pytest.param({"cadence_minutes": -5}, "cadence_minutes", id="negative-cadence"),
            pytest.param({"cadence_minutes": 0}, "cadence_minutes", id="zero-cadence"),
            pytest.param({"cadence_minutes": 10**6}, "cadence_minutes", id="two-years"),
            pytest.param({"cadence_minutes": 10**12}, "cadence_minutes", id="absurd-cadence"),
            pytest.param({"cadence_minutes": "often"}, "cadence_minutes", id="cadence-not-a-number"),
            pytest.param({"owner": "nobody"}, "owner", id="owner-not-a-user"),
            pytest.param({"owner": None}, "owner", id="no-owner"),
            pytest.param({"kind": "mainframe"}, "kind", id="unknown-kind"),
            pytest.param({"default_format": "pdf"}, "default_format", id="unknown-format"),
            pytest.param({"hosts": "h" * 501}, "hosts", id="oversized-hosts"),
            pytest.param({"supplier_accounts": "a" * 1001}, "supplier_accounts", id="oversized-suppliers"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field(self, isms_admin, overrides, field) -> None:
        services.create_source(actor=isms_admin, name="existing", owner=isms_admin)
        before = EvidenceSource.objects.count()
        response = admin_api(isms_admin).post(self.url, api_data(isms_admin, **overrides), format="json")
        assert response.status_code == 400
        body = response.json()
        assert list(body) == [field], body
        assert body[field]
        assert all(isinstance(message, str) and message for message in body[field])
        assert "token" not in body
        assert EvidenceSource.objects.count() == before

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"cadence_minutes": 0}, "cadence_minutes"), ({"name": "other"}, "name"), ({"owner": "nobody"}, "owner")],
    )
    def test_a_bad_change_is_refused_naming_the_field(self, isms_admin, change, field) -> None:
        services.create_source(actor=isms_admin, name="other", owner=isms_admin)
        source, _ = services.create_source(actor=isms_admin, name="changed", owner=isms_admin, cadence_minutes=30)
        response = admin_api(isms_admin).patch(f"{self.url}{source.pk}/", change, format="json")
        assert response.status_code == 400
        assert list(response.json()) == [field]
        source.refresh_from_db()
        assert (source.name, source.cadence_minutes, source.owner) == ("changed", 30, isms_admin)

    def test_inactive_owner_is_refused(self, isms_admin, outsider) -> None:
        outsider.is_active = False
        outsider.save()
        response = admin_api(isms_admin).post(self.url, api_data(outsider), format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["owner"]
        assert not EvidenceSource.objects.exists()


class TestChangingASource:
    def test_a_settings_change_keeps_the_chain_head_ingestion_moved_meanwhile(self, isms_admin) -> None:
        """An edit made from a copy read before a batch was chained must not roll the chain back."""
        import io

        from evidence import ingestion
        from evidence.verification import verify_source

        def ingest(source, line: bytes) -> None:
            job = ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(line), enqueue=False)
            for chunk_id in job.chunks.values_list("pk", flat=True):
                ingestion.process_chunk(chunk_id)

        source, _ = services.create_source(actor=isms_admin, name="busy", owner=isms_admin, cadence_minutes=60)
        read_before = EvidenceSource.objects.get(pk=source.pk)  # e.g. by the API request of the edit
        ingest(source, LINE)
        source.refresh_from_db()
        head = (source.chain_seq, source.chain_hash, source.last_event_at)
        assert head[0] == 1
        assert head[2] is not None

        services.update_source(actor=isms_admin, source=read_before, cadence_minutes=30, hosts="web1")
        source.refresh_from_db()
        assert (source.chain_seq, source.chain_hash, source.last_event_at) == head
        assert (source.cadence_minutes, source.hosts) == (30, "web1")

        ingest(source, LINE.replace(b"10:00:00", b"10:00:01"))  # the next batch chains on
        source.refresh_from_db()
        assert source.chain_seq == 2
        assert verify_source(source).intact


class TestTokenRotation:
    def test_rotation_shows_a_new_token_and_the_old_one_stops_working(self, client_for, isms_admin) -> None:
        source, old = services.create_source(actor=isms_admin, name="rotated", owner=isms_admin)
        assert push(source.name, old).status_code == 202
        jobs_before = IngestionJob.objects.count()
        response = confirm_identity(client_for("isms_admin")).post(reverse("evidence:rotate_token", args=[source.pk]))
        assert response.status_code == 200
        assert b"The previous token no longer works" in response.content
        new = TOKEN_IN_PAGE.search(response.content).group(1).decode()
        assert new != old
        source.refresh_from_db()
        assert source.token_matches(new)
        assert not source.token_matches(old)
        refused = push(source.name, old)
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == "Bearer"
        assert IngestionJob.objects.count() == jobs_before
        assert push(source.name, new).status_code == 202
        assert IngestionJob.objects.count() == jobs_before + 1

    @pytest.mark.parametrize("persona", NON_ADMINS)
    def test_only_the_admin_may_rotate(self, client_for, isms_admin, persona) -> None:
        source, token = services.create_source(actor=isms_admin, name="kept", owner=isms_admin)
        response = client_for(persona).post(reverse("evidence:rotate_token", args=[source.pk]))
        assert response.status_code == 403
        source.refresh_from_db()
        assert source.token_matches(token)

    def test_the_rotate_button_is_offered_to_the_admin_only(self, client_for, isms_admin) -> None:
        source, _ = services.create_source(actor=isms_admin, name="button", owner=isms_admin)
        url = reverse("evidence:rotate_token", args=[source.pk]).encode()
        assert url in client_for("isms_admin").get(reverse("evidence:source", args=[source.pk])).content
        page = client_for("internal_auditor").get(reverse("evidence:source", args=[source.pk]))
        assert page.status_code == 200
        assert url not in page.content


class TestPushWithAWrongToken:
    @pytest.mark.parametrize(
        "mangle",
        [
            pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="last-char-changed"),
            pytest.param(lambda token: token[:12], id="prefix-only"),
            pytest.param(lambda token: token + "x", id="longer"),
            pytest.param(lambda token: token.upper(), id="case-changed"),
        ],
    )
    def test_a_wrong_token_stores_nothing(self, isms_admin, mangle) -> None:
        source, token = services.create_source(actor=isms_admin, name="guarded", owner=isms_admin)
        response = push(source.name, mangle(token))
        assert response.status_code == 401
        assert not IngestionJob.objects.exists()
        source.refresh_from_db()
        assert (source.chain_seq, source.last_event_at) == (0, None)

    def test_a_token_of_a_source_pushing_to_another_name_is_refused(self, isms_admin) -> None:
        _, token = services.create_source(actor=isms_admin, name="one", owner=isms_admin)
        services.create_source(actor=isms_admin, name="two", owner=isms_admin)
        assert push("two", token).status_code == 401
        assert push("no-such-source", token).status_code == 401
        assert not IngestionJob.objects.exists()

    def test_a_logged_in_session_is_no_substitute_for_the_token(self, isms_admin) -> None:
        source, _ = services.create_source(actor=isms_admin, name="session", owner=isms_admin)
        client = Client()
        client.force_login(isms_admin)
        response = client.post(f"/api/ingest/{source.name}/", data=LINE, content_type="text/plain")
        assert response.status_code == 401
        assert not IngestionJob.objects.exists()


class TestSigningKeyFingerprint:
    def expected(self) -> str:
        """Computed here from the public key file beside the private key (what an auditor holds)."""
        public_file = integrity.key_path().with_suffix(".pub.pem")
        key = serialization.load_pem_public_key(public_file.read_bytes())
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    @pytest.mark.parametrize("persona", ["isms_admin", "compliance_officer", "internal_auditor"])
    def test_the_sources_page_shows_the_fingerprint(self, client_for, persona) -> None:
        fingerprint = integrity.fingerprint()
        assert fingerprint == self.expected()
        assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
        page = client_for(persona).get(reverse("evidence:sources"))
        assert f"<code data-fingerprint>{fingerprint}</code>".encode() in page.content
        assert integrity.public_key_pem().decode().strip().encode() in page.content

    def test_the_source_page_and_its_checkpoints_name_the_same_key(self, client_for, isms_admin) -> None:
        import io

        from evidence import ingestion
        from evidence.models import Checkpoint

        source, _ = services.create_source(actor=isms_admin, name="signed", owner=isms_admin)
        job = ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(LINE), enqueue=False)
        for chunk_id in job.chunks.values_list("pk", flat=True):
            ingestion.process_chunk(chunk_id)
        fingerprint = self.expected()
        assert set(Checkpoint.objects.filter(source=source).values_list("key_fingerprint", flat=True)) == {fingerprint}
        page = client_for("internal_auditor").get(reverse("evidence:source", args=[source.pk]))
        assert f"key fingerprint <code>{fingerprint}</code>".encode() in page.content

    def test_a_missing_key_is_reported_not_a_server_error(self, client_for, settings, tmp_path) -> None:
        settings.EVIDENCE_SIGNING_KEY = tmp_path / "absent.pem"
        page = client_for("isms_admin").get(reverse("evidence:sources"))
        assert page.status_code == 200
        assert b"data-fingerprint" not in page.content
        assert b"No signing key" in page.content
        assert b"absent.pem" in page.content


def test_one_freshness_rule_for_sources_panel_and_soa() -> None:
    """Sources page, dashboard panel and SoA health all ask ``delivered_within_cadence``."""
    from datetime import datetime, timedelta

    from evidence.models import EvidenceSource
    from evidence.models.sources import delivered_within_cadence

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert delivered_within_cadence(now - timedelta(minutes=60), 60, now)
    assert not delivered_within_cadence(now - timedelta(minutes=60, seconds=1), 60, now)
    assert not delivered_within_cadence(None, 60, now)
    source = EvidenceSource(cadence_minutes=60, last_event_at=now - timedelta(minutes=59))
    assert source.is_fresh(now)
    assert not source.is_fresh(now + timedelta(minutes=2))


def test_receiver_losses_are_shown_on_the_source_without_an_audit_entry(isms_admin, client_for) -> None:
    from ismsapp.models import AuditEntry

    source, _ = services.create_source(actor=isms_admin, name="udp-lossy", owner=isms_admin)
    client = client_for("isms_admin")
    assert b'data-figure="messages-lost">none' in client.get(reverse("evidence:source", args=[source.pk])).content
    entries = AuditEntry.objects.count()
    services.record_receiver_loss(source_id=source.pk, lost=3)
    services.record_receiver_loss(source_id=source.pk, lost=4)
    source.refresh_from_db()
    assert source.messages_lost == 7
    assert source.last_loss_at is not None
    assert AuditEntry.objects.count() == entries  # a receiver's counter, not a change of the source's settings
    page = client.get(reverse("evidence:source", args=[source.pk])).content.decode()
    assert "7 messages</span>" in page
    assert 'data-lost="7"' in client.get(reverse("evidence:sources")).content.decode()
    assert admin_api(isms_admin).get(f"/api/evidence-sources/{source.pk}/").json()["messages_lost"] == 7
