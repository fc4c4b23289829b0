"""The API's page (Swagger UI) is served by the gateway from package files: the page, every file it
loads and the document it reads, all from the gateway itself, no other host."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import requests
from openapi_spec_validator import OpenAPIV30SpecValidator

pytestmark = pytest.mark.e2e


class References(HTMLParser):
    """Every address the page makes a browser load (src, href)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_api_page_and_its_files_come_from_the_gateway(api, stack_config):
    root = f"http://{stack_config['WEB_SERVER_ADDRESS']}"
    page = api.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp  # a browser fetches no host

    parser = References()
    parser.feed(page.text)
    assert len(parser.found) >= 6, parser.found
    loaded = {}
    for address in parser.found:
        parts = urlsplit(address)
        assert not parts.scheme and not parts.netloc, address  # the gateway's own, by path
        answer = requests.get(root + address, timeout=30)
        assert answer.status_code == 200, address
        loaded[address.rsplit("/", 1)[1]] = answer
    assert loaded["swagger-ui-bundle.js"].headers["Content-Type"].startswith("text/javascript")
    assert len(loaded["swagger-ui-bundle.js"].content) > 500_000  # the real bundle
    assert loaded["swagger-ui.css"].headers["Content-Type"].startswith("text/css")

    # the start script reads this gateway's document, and sends it to no online validator
    start = loaded["start.js"].text
    assert not re.search(r"https?://", start)
    assert '"/api/v1/openapi.json"' in start and "validatorUrl: null" in start
    document = api.get("/openapi.json").json()
    assert list(OpenAPIV30SpecValidator(document).iter_errors()) == []

    # nothing else of the package is served, and /docs leads to the page
    assert api.get("/docs/oauth2-redirect.html").status_code == 404
    assert api.get("/docs/..%2f__init__.py").status_code == 404
    assert api.get("/docs/index.html").json()["error"]["code"] == "route_not_found"
    moved = requests.get(root + "/docs", allow_redirects=False, timeout=30)
    assert moved.status_code == 308 and moved.headers["Location"].endswith("/api/v1/docs")
