"""Copy the screenshots the operator's guide shows from the browser tests' output into
``docs/screenshots/`` (`make guide-screenshots`, after `make test` or the browser tier).

The guide names each picture by the file the tests save (``tests/browser/screenshots/``); here it
is cut to its first screens and made lighter (half size, 256 colours), so that the repository
keeps pictures a reader can open, taken by the tests, not drawn by hand."""

import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "operators-guide.md"
SOURCE = ROOT / "tests" / "browser" / "screenshots"
TARGET = ROOT / "docs" / "screenshots"
SHOWN = re.compile(r"\]\(screenshots/([^)]+\.png)\)")
MAX_HEIGHT = 2400  # pixels of the page kept, from its top


def shown(guide=GUIDE):
    """The file names of the screenshots the guide shows, in order."""
    return SHOWN.findall(guide.read_text(encoding="utf-8"))


def lighten(source, target):
    with Image.open(source) as image:
        image = image.convert("RGB")
        image = image.crop((0, 0, image.width, min(image.height, MAX_HEIGHT)))
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
        image.quantize(colors=256).save(target, optimize=True)


def main():
    TARGET.mkdir(exist_ok=True)
    missing = []
    for name in shown():
        source = SOURCE / name
        if not source.exists():
            missing.append(name)
            continue
        lighten(source, TARGET / name)
        print(f"docs/screenshots/{name}")
    if missing:
        print("not taken yet (run the browser tests):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
