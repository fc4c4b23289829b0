"""Ordering prices an order before it is made (the sponsor's order form shows it live) and lists
a sponsor's distributors (the sponsor's booklet page offers them), over its store (no broker)."""

import pytest

from services.ordering import api
from services.ordering.settings import Settings
from services.ordering.store import OrderingRepository
from shared.contracts.errors_ordering import CofundingNotEligible, NotYours, SponsorNotFound
from shared.contracts.schemas_ordering import DistributorInput, QuoteInput
from shared.errors import ValidationFailed
from shared.mongo import get_database
from tests.store.test_ordering_api import OPERATOR, key_of, make_order, make_sponsor


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "ordering", tz_aware=True)
    OrderingRepository.ensure_indexes(db)
    return OrderingRepository(db)


@pytest.fixture
def settings():
    return Settings()


def priced(repo, settings, sponsor, cofunded, quantity=200, actor=None):
    payload = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": quantity}],
        "state_cofunding": cofunded,
    }
    data = QuoteInput().load_or_raise(payload)
    return api.quote_order(repo, settings, data, actor or key_of(sponsor))


def test_the_quote_is_the_order_s_and_stores_nothing(repo, settings):
    sponsor = make_sponsor(repo)
    # 200 booklets x 10 x 10 EUR = 20,000 EUR: fee 800 EUR (4 %), State 10,000 EUR (50 %)
    assert priced(repo, settings, sponsor, cofunded=True) == {
        "coupon_count": 2000,
        "face_value_cents": 2_000_000,
        "fee_cents": 80_000,
        "state_share_cents": 1_000_000,
        "sponsor_due_cents": 1_080_000,
        "state_rate_bp": 5000,
    }
    alone = priced(repo, settings, sponsor, cofunded=False)
    assert (alone["state_share_cents"], alone["sponsor_due_cents"]) == (0, 2_080_000)
    assert alone["state_rate_bp"] == 0
    assert repo.db.orders.count_documents({}) == 0
    order = make_order(repo, settings, sponsor, cofunded=True)
    quote = priced(repo, settings, sponsor, cofunded=True)
    assert order["quote"] == {k: v for k, v in quote.items() if k != "state_rate_bp"}


def test_the_quote_refuses_what_the_order_would(repo, settings):
    company = make_sponsor(repo, kind="company")
    with pytest.raises(CofundingNotEligible) as caught:
        priced(repo, settings, company, cofunded=True)
    assert caught.value.details["rule"] == "local_authority"
    other = make_sponsor(repo, territory="40")
    with pytest.raises(NotYours):
        priced(repo, settings, company, cofunded=False, actor=key_of(other))
    with pytest.raises(ValidationFailed):
        QuoteInput().load_or_raise({"sponsor_id": company["id"], "lines": []})


def test_a_sponsor_lists_its_own_distributors_by_name(repo, settings):
    sponsor, other = make_sponsor(repo), make_sponsor(repo, territory="40")
    for name, owner in (
        ("Mairie de Talence", sponsor),
        ("CCAS de Pessac", sponsor),
        ("CCAS de Dax", other),
    ):
        data = DistributorInput().load(
            {"name": name, "sponsor_id": owner["id"], "town_code": "33318"}
        )
        api.register_distributor(repo, data, OPERATOR)
    names = [d["name"] for d in api.list_distributors(repo, sponsor["id"], key_of(sponsor))]
    assert names == ["CCAS de Pessac", "Mairie de Talence"]
    with pytest.raises(NotYours):
        api.list_distributors(repo, other["id"], key_of(sponsor))
    with pytest.raises(SponsorNotFound):
        api.list_distributors(repo, "spo_nothere", OPERATOR)
