"""The gateway asks the owning service whether a key's subject exists, before making the key."""

from types import SimpleNamespace

import pytest
from nameko.exceptions import UnknownService

from services.gateway.subjects import GATEWAY_OPERATOR, create_bound_key, require_subject
from shared.contracts.errors_ordering import SponsorNotFound
from shared.errors import Unavailable, ValidationFailed


class Method:
    """A proxy method: records its calls, answers ``answer`` (or raises it)."""

    def __init__(self, service_name, answer=None):
        self.service_name = service_name
        self.answer = answer
        self.calls = []
        self.worker_ctx = SimpleNamespace(config={"RPC_TIMEOUT": 1})

    def call_async(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if isinstance(self.answer, UnknownService):
            raise self.answer  # nameko raises it when publishing: no queue for the service

        def result():
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return SimpleNamespace(result=result, resp_body=None)


class Keys:
    def __init__(self):
        self.made = []

    def create(self, role, subject_id, label):
        self.made.append((role, subject_id, label))
        return "ak_x", {"role": role, "subject_id": subject_id}


def gateway(venue=None, sponsor=None, distributor=None):
    return SimpleNamespace(
        catalog_rpc=SimpleNamespace(get_venue=Method("catalog", venue or {"id": "ven_1"})),
        ordering_rpc=SimpleNamespace(
            get_sponsor=Method("ordering", sponsor or {"id": "spo_1"}),
            get_distributor=Method("ordering", distributor or {"id": "dis_1"}),
        ),
        auth=SimpleNamespace(keys=Keys()),
    )


def test_each_role_asks_its_owner_as_an_operator():
    gw = gateway()
    actor = {"role": "operator", "key_id": "key_1", "subject_id": None, "label": "me"}
    assert require_subject(gw, "venue", "ven_1", actor) == {"id": "ven_1"}
    assert gw.catalog_rpc.get_venue.calls == [(("ven_1",), {"public": False})]
    require_subject(gw, "sponsor", "spo_1", actor)
    assert gw.ordering_rpc.get_sponsor.calls == [(("spo_1", actor), {})]
    require_subject(gw, "distributor", "dis_1")  # over RPC: the gateway's own operator actor
    assert gw.ordering_rpc.get_distributor.calls == [(("dis_1", GATEWAY_OPERATOR), {})]
    assert require_subject(gw, "operator", None) is None


def test_an_unknown_subject_makes_no_key():
    gw = gateway(sponsor=SponsorNotFound(details={"sponsor_id": "spo_x"}))
    with pytest.raises(SponsorNotFound):
        create_bound_key(gw, {"role": "sponsor", "subject_id": "spo_x", "label": None})
    assert gw.auth.keys.made == []


def test_a_service_not_running_is_unavailable_and_makes_no_key():
    gw = gateway(venue=UnknownService("catalog"))
    with pytest.raises(Unavailable) as refused:
        create_bound_key(gw, {"role": "venue", "subject_id": "ven_1"})
    assert refused.value.details == {"service": "catalog"}
    assert gw.auth.keys.made == []


def test_the_input_is_checked_before_any_service_is_asked():
    gw = gateway()
    with pytest.raises(ValidationFailed):
        create_bound_key(gw, {"role": "venue", "subject_id": "ven_\ud800"})
    assert gw.catalog_rpc.get_venue.calls == []
    key, record = create_bound_key(gw, {"role": "operator", "label": "desk"})
    assert gw.auth.keys.made == [("operator", None, "desk")]
    assert gw.catalog_rpc.get_venue.calls == gw.ordering_rpc.get_sponsor.calls == []
