"""Words and numbers as people read them: the gettext catalog, money, dates, in Europe/Paris.

The pages are written in French (the source language); every string goes through gettext, so
another language is a catalog away (``translations/<lang>/LC_MESSAGES/messages.po``). Catalogs
are read from their ``.po`` text when the service starts (no compiled file in the repository).
"""

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from shared import times
from shared.money import format_eur

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
PARIS = ZoneInfo("Europe/Paris")


def load_translations(language):
    """The catalog of ``language`` (compiled in memory from its ``.po``), or the source text."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def _moment(value):
    return times.parse(value) if isinstance(value, str) else times.aware(value)


def filters(language):
    """Jinja filters: ``euros`` (``1 234,56 €``), ``day`` (``23 novembre 2026``), ``moment``."""
    return {
        "euros": lambda cents: format_eur(int(cents or 0)),
        "day": lambda value: (
            format_date(_moment(value).astimezone(PARIS), "d MMMM y", locale=language)
            if value
            else ""
        ),
        "moment": lambda value: (
            format_datetime(_moment(value), "d MMMM y 'à' HH:mm", tzinfo=PARIS, locale=language)
            if value
            else ""
        ),
        "clock": lambda value: (
            format_datetime(_moment(value), "HH:mm", tzinfo=PARIS, locale=language) if value else ""
        ),
        "km": lambda value: f"{value:.1f}".replace(".", ",") + "\u00a0km",
    }
