"""The API's page: Swagger UI over ``/api/v1/openapi.json``, served from package files (the PyPI
package ``swagger-ui-bundle``, pinned), never from a CDN.

``GET /api/v1/docs`` is the page (our own HTML and start script: no inline script, the document's
address given, Swagger's online validator off); ``GET /api/v1/docs/<asset>`` serves the few files
of the bundle the page loads, and nothing else of it. Every answer carries a Content-Security-Policy
that lets a browser load nothing from another host. ``GET /docs`` redirects to the page.
"""

import functools

from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from services.gateway.http import API_PREFIX

DOCS = f"{API_PREFIX}/docs"
SPEC_URL = f"{API_PREFIX}/openapi.json"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

# the bundle's files the page loads, and their types
ASSETS = {
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

PAGE = f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>APTIC voucher platform: API</title>
    <link rel="stylesheet" type="text/css" href="{DOCS}/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="{DOCS}/index.css">
    <link rel="icon" type="image/png" href="{DOCS}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="{DOCS}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{DOCS}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="{DOCS}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="{DOCS}/start.js" charset="UTF-8"></script>
  </body>
</html>
"""

START = f"""window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{SPEC_URL}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  }});
}};
"""


@functools.cache
def asset_bytes(name):
    return (swagger_ui_path / name).read_bytes()


def _answer(body, mimetype, status=200):
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=3600",
    }
    return Response(body, status=status, mimetype=mimetype, headers=headers)


def page():
    return _answer(PAGE, "text/html")


def asset(name):
    """One of the page's files, or None (an unknown name: the caller answers 404)."""
    if name == "start.js":
        return _answer(START, "text/javascript")
    if name not in ASSETS:
        return None
    return _answer(asset_bytes(name), ASSETS[name])
