"""Generic input guard: a NUL byte in any filter of any page or API list, as the two roles that see
most, is refused (400, naming the parameter) by the input-cleaning middleware, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests import test_routes
from tests.route_rules import RULES

world = test_routes.world  # one object of each kind, built once for the module
FILTERS = ("q", "theme", "edition", "source", "since", "until", "actor", "object_type", "status", "before", "page")
GET_ROUTES = [name for name in test_routes.ROUTES if name in RULES and RULES[name].method == "GET"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["compliance_officer", "isms_admin"])
@pytest.mark.parametrize("name", GET_ROUTES)
def test_nul_in_any_filter_of_any_list_is_refused_naming_it(name: str, persona: str, world: dict) -> None:
    rule = RULES[name]
    client = Client()
    client.force_login(world["personas"][persona])
    url = reverse(name, kwargs=rule.kwargs(world) if rule.kwargs else None)
    for parameter in FILTERS:
        response = client.get(url, {parameter: "a\x00b"})
        assert response.status_code == 400, f"{name}?{parameter}=%00 answered {response.status_code}"
        assert parameter in response.content.decode(), f"{name}: the refusal does not name {parameter}"
