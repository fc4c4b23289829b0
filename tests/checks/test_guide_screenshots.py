"""The operator's guide shows screenshots the browser tests take: each one is in docs/screenshots,
and its name is a browser test's and a step that test's scenarios look at (``person.look``)."""

import re
from pathlib import Path

from scripts.guide_screenshots import TARGET, shown

BROWSER = Path(__file__).resolve().parent.parent / "browser"
NAME = re.compile(r"(?P<test>test_\w+)-(?P<visitor>[\w-]+?)-(?P<n>\d\d)-(?P<label>[\w-]+)\.png")


def test_every_screenshot_of_the_guide_is_there_and_taken_by_a_test():
    names = shown()
    assert len(names) >= 10
    tests = "".join(p.read_text() for p in BROWSER.glob("test_*.py"))
    scenarios = "".join(p.read_text() for p in BROWSER.glob("scenarios*.py"))
    for name in names:
        assert (TARGET / name).exists(), (
            f"{name}: run the browser tests, then make guide-screenshots"
        )
        found = NAME.fullmatch(name)
        assert found, name
        assert f"def {found['test']}(" in tests, name
        assert f'look("{found["label"]}"' in scenarios, name
