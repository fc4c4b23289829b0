"""The dashboard page's tables and CSV files (UTF-8 with a BOM, ';'), and the shared links'
store (hashed token, revocable, expiring, one sponsor's)."""

from datetime import timedelta

import pytest

from services.web import accounts
from services.web.pages.dashboard import csv_bytes, tables
from services.web.shares import COLLECTION, ShareRepository
from shared.errors import NotFound
from shared.mongo import get_database
from shared.times import now


def same(text):
    return text


def test_tables_name_their_rows_and_hide_suppressed_cells():
    board = {
        "by_month": [{"month": "2026-02", "beneficiaries": 7, "distributed": 7, "redeemed": 3}],
        "by_age_band": [{"age_band": "other", "suppressed": True}],
        "by_public_category": [
            {"public_category": "unknown", "beneficiaries": 5, "handed_out": 25},
        ],
    }
    by_name = {t["name"]: t for t in tables(board, same)}
    (month,) = by_name["mois"]["rows"]
    assert month == {"label": "février 2026", "cells": [7, 7, 0, 3], "suppressed": False}
    (ages,) = by_name["ages"]["rows"]
    assert ages["suppressed"] and ages["cells"] == [None] * 5
    assert by_name["publics"]["rows"][0]["label"] == "Non renseigné"
    assert by_name["lieux"]["rows"] == []


def test_a_csv_opens_in_french_excel():
    data = csv_bytes(
        ["", "Bénéficiaires"], [["26 à 35 ans", 6], ["Autres; regroupées", "moins de 5"]]
    )
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    assert data.decode("utf-8-sig") == (
        ';Bénéficiaires\r\n26 à 35 ans;6\r\n"Autres; regroupées";moins de 5\r\n'
    )


@pytest.fixture
def shares(mongo_config):
    return ShareRepository.of(get_database(mongo_config, "web"))


def test_a_link_is_stored_hashed_and_lives_until_revoked(shares):
    token, record = shares.create("spo_1", "  Mairie   de Bordeaux ", 7, "usr_1")
    stored = shares.db[COLLECTION].find_one({"share_id": record["share_id"]})
    assert stored["token_hash"] == accounts.token_hash(token) and token not in str(stored)
    assert stored["label"] == "Mairie de Bordeaux"
    assert shares.live(token)["sponsor_id"] == "spo_1"
    with pytest.raises(NotFound):  # another sponsor cannot revoke it
        shares.revoke("spo_2", record["share_id"])
    assert shares.live(token) is not None
    shares.revoke("spo_1", record["share_id"])
    assert shares.live(token) is None
    assert [r["revoked_at"] is not None for r in shares.of_sponsor("spo_1")] == [True]


def test_an_expired_link_opens_nothing(shares):
    token, record = shares.create("spo_1", "", 30, "usr_1")
    shares.db[COLLECTION].update_one(
        {"share_id": record["share_id"]}, {"$set": {"expires_at": now() - timedelta(seconds=1)}}
    )
    assert shares.live(token) is None
    assert shares.of_sponsor("spo_1") == []
    assert shares.live("not-a-token") is None


def test_the_expiry_is_a_ttl_index(shares):
    indexes = shares.db[COLLECTION].index_information().values()
    assert any(i.get("expireAfterSeconds") == 0 and i["key"][0][0] == "expires_at" for i in indexes)
