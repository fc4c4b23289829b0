"""The docs say what the code does."""

import importlib
import re
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


def test_the_rules_name_functions_and_tests_that_exist():
    """docs/rules.md gives each rule its function and its test: both must exist, so that a renamed
    function or test breaks this check rather than leave the page pointing at nothing."""
    rows = [
        line
        for line in (ROOT / "docs/rules.md").read_text().splitlines()
        if line.startswith("| ") and "`tests/" in line
    ]
    money = [row[2] for row in rows if re.match(r"\| [1-7]\. ", row)]
    assert money == list("1234567") and len(rows) > 7
    for row in rows:
        function_cell, test_cell = row.split(" | ")[-2:]
        names = re.findall(r"`([\w/]+)\.(\w+)`", function_cell)
        tests = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", test_cell)
        assert names and tests, row
        for path, name in names:
            module = importlib.import_module(path.replace("/", "."))
            assert callable(getattr(module, name)), (path, name)
        for path, name in tests:
            source = (ROOT / path).read_text()
            assert not name or f"def {name}(" in source, (path, name)
