"""The web pages' plain rules: finding a place, the desk's basket, passwords and the login guard,
signed links, refusals in French for every redemption code, the catalog of texts kept current."""

from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.web import accounts, basket, labels, places, ratings
from services.web.i18n import filters
from services.web.settings import Settings
from shared import serials
from shared.contracts import errors_redemption
from shared.errors import AppError

WEB = Path(__file__).resolve().parents[2] / "services" / "web"


def feature(postcode, city, lat, lon):
    return {
        "properties": {"postcode": postcode, "city": city},
        "geometry": {"coordinates": [lon, lat]},
    }


FEATURES = [
    feature("33700", "Mérignac", 44.8, -0.6),
    feature("33700", "Mérignac", 44.9, -0.7),
    feature("33000", "Bordeaux", 44.84, -0.58),
    feature("33600", "Pessac", 44.81, -0.63),
]


def test_a_place_is_the_centre_of_its_venues_by_postcode_town_or_its_start():
    assert places.locate(FEATURES, "33700") == pytest.approx((44.85, -0.65))
    assert places.locate(FEATURES, "  merignac ") == pytest.approx((44.85, -0.65))
    assert places.locate(FEATURES, "MÉRIGNAC") == pytest.approx((44.85, -0.65))
    assert places.locate(FEATURES, "Pess") == pytest.approx((44.81, -0.63))
    assert places.locate(FEATURES, "336") == pytest.approx((44.81, -0.63))
    assert places.locate(FEATURES, "Lyon") is None
    assert places.locate(FEATURES, "") is None


def test_an_average_shows_from_five_ratings():
    assert places.average({"v": (4, 20)}, "v") is None
    assert places.average({"v": (5, 21)}, "v") == (4.2, 5)
    assert places.average({}, "v") is None


def test_a_position_is_a_point_or_nothing():
    assert places.point("44.8067", "-0.6311") == "44.80670,-0.63110"
    assert places.point("91", "0") is None
    assert places.point("x", "0") is None
    assert places.point(None, None) is None


def test_the_basket_reads_every_row_and_matches_serials_as_the_platform_writes_them():
    serial = serials.coupon_serial(7_000_123)
    spaced = f"{serial[:4]} {serial[4:8]}-{serial[8:]}"
    form = {"rows": "3", "serial_0": spaced, "code_0": " ab12cd34 ", "serial_2": "x"}
    lines = basket.read_lines(form)
    assert [line.filled for line in lines] == [True, False, True]
    assert lines[0].key() == serial and lines[0].code == "ab12cd34"
    assert len(basket.read_lines({"rows": "999"})) == basket.MAX_ROWS
    assert len(basket.read_lines({"rows": "nope"})) == 1
    key = basket.new_idempotency_key()
    assert basket.well_formed_key(key) and key != basket.new_idempotency_key()
    assert not basket.well_formed_key("short") and not basket.well_formed_key("a b" * 5)


def test_passwords_are_argon2_hashes_and_an_unknown_account_never_matches():
    stored = accounts.hash_password("un mot de passe solide")
    assert stored.startswith("$argon2id$")
    assert accounts.password_matches(stored, "un mot de passe solide")
    assert not accounts.password_matches(stored, "un autre")
    assert not accounts.password_matches(None, "un mot de passe solide")
    assert not accounts.password_matches("not a hash", "x")


def test_the_login_guard_counts_per_account_and_per_address():
    assert not accounts.too_many(4, 19)
    assert accounts.too_many(accounts.MAX_FAILURES_PER_ACCOUNT, 0)
    assert accounts.too_many(0, accounts.MAX_FAILURES_PER_ADDRESS)


def test_rating_links_are_signed_with_the_secret():
    settings = Settings(secret="s" * 32, public_url="https://pass.example.org/")
    link = ratings.link(settings, "red_1")
    assert link.startswith("https://pass.example.org/avis/red_1/")
    signature = link.rsplit("/", 1)[1]
    assert ratings.genuine(settings, "red_1", signature)
    assert not ratings.genuine(settings, "red_2", signature)
    assert not ratings.genuine(Settings(secret="t" * 32), "red_1", signature)
    assert ratings.qr_svg(link).startswith("<svg")
    assert ratings.read_rating({"score": "4", "comment": "  bien\n merci "}) == (4, "bien merci")
    assert ratings.read_rating({"score": "9"}) == (None, "")


@pytest.mark.parametrize(
    "cls",
    [
        getattr(errors_redemption, name)
        for name in errors_redemption.__all__
        if issubclass(getattr(errors_redemption, name), AppError)
    ],
    ids=lambda cls: cls.code,
)
def test_every_refusal_of_redemption_has_its_sentence(cls):
    if cls.code in ("redemption_not_found", "redemption_not_voidable", "not_yours"):
        return  # not a coupon's refusal: the desk never shows these next to a coupon
    assert cls.code in labels.REFUSALS
    assert labels.refusal("rule_venue_type") == labels.REFUSALS["rule_venue_type"]
    assert labels.refusal("rule_something_new") == labels.REFUSALS["rule_broken"]


def test_money_and_dates_as_people_read_them():
    show = filters("fr")
    assert show["euros"](123456) == "1\u202f234,56\u00a0€"
    assert show["day"]("2026-11-23T23:30:00Z") == "24 novembre 2026"  # Paris is an hour ahead
    assert show["km"](3.74) == "3,7\u00a0km"


def test_the_tile_server_is_the_only_other_origin_of_images():
    assert Settings(secret="x").tile_origin == "https://tile.openstreetmap.org"
    custom = Settings(secret="x", tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert custom.tile_origin == "https://*.tiles.example.org"


def test_the_french_catalog_holds_every_text_of_the_pages():
    """After changing a text: pybabel extract + update (docs/web.md)."""
    method_map = [
        ("**/node_modules/**", "ignore"),
        ("**.py", "python"),
        ("**/templates/**.html", "jinja2"),
    ]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}
    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(WEB), method_map, options)
    }
    with (WEB / "translations/fr/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    known = {message.id if isinstance(message.id, str) else message.id[0] for message in catalog}
    assert "Encaisser" in found and "Ce chèque a déjà été encaissé." in found
    assert found <= known, sorted(found - known)


def test_every_text_of_the_templates_survives_formatting():
    """Jinja's gettext formats every text (``text % variables``), so a lone ``%`` ("4 % de
    frais") breaks its page: it is written ``%%``."""
    method_map = [("**/node_modules/**", "ignore"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}
    broken = []
    for filename, _, message, *_ in extract_from_dir(str(WEB), method_map, options):
        for text in [message] if isinstance(message, str) else message:
            if not text:
                continue
            try:
                text % defaultdict(str)
            except (TypeError, ValueError) as exc:
                broken.append((filename, text, str(exc)))
    assert broken == []


def test_settings_read_their_config_keys_and_make_a_secret_when_none_is_set():
    settings = Settings.from_config(
        {
            "WEB_SECRET": "k" * 32,
            "PUBLIC_WEB_URL": "https://pass.example.org",
            "COOKIE_SECURE": "true",
            "SESSION_HOURS": "3",
            "TRUSTED_PROXIES": 1,
            "WEB_LANGUAGE": "",  # empty: the default
        }
    )
    assert (settings.secret, settings.public_url, settings.language) == (
        "k" * 32,
        "https://pass.example.org",
        "fr",
    )
    assert settings.cookie_secure is True and settings.session_hours == 3
    assert settings.trusted_proxies == 1 and "k" * 32 not in repr(settings)
    first, second = Settings.from_config({}), Settings.from_config({"WEB_SECRET": None})
    assert len(first.secret) == 64 and first.secret != second.secret
