"""The docs say what the code does."""

from pathlib import Path

from aptic.catalogue import render

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_is_current():
    written = (ROOT / "docs/catalogue.md").read_text()
    assert written == render(), "run: .venv/bin/aptic catalogue > docs/catalogue.md"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make run" in head and "make test" in head


def test_every_venue_type_and_category_is_documented():
    from shared.contracts.taxonomy import SERVICE_CATEGORIES, VENUE_TYPES

    text = (ROOT / "docs/catalog.md").read_text()
    for code in [*VENUE_TYPES, *SERVICE_CATEGORIES]:
        assert f"`{code}`" in text, code
