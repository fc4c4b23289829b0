"""The pages' HTTP entrypoint: its own address, HTML answers, French error pages, security
headers on every answer, static files (ours and the npm packages'), sessions and CSRF."""

import logging
import mimetypes
import os
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.server import WebServer, WsgiApp, parse_address
from werkzeug.exceptions import HTTPException
from werkzeug.utils import safe_join
from werkzeug.wrappers import Response

from services.web import accounts
from services.web.i18n import filters, load_translations
from shared.entrypoints import MeasuredHttpHandler
from shared.errors import AppError, Forbidden, NotFound, TooManyAttempts, Unavailable

log = logging.getLogger(__name__)

ADDRESS_KEY = "WEB_PAGES_ADDRESS"  # the gateway has WEB_SERVER_ADDRESS; the pages their own
DEFAULT_ADDRESS = "127.0.0.1:0"  # a free port, when the config names none (the test stacks)
MAX_FORM_BYTES = 64 * 1024
SESSION_COOKIE = "aptic_session"
CSRF_COOKIE = "aptic_csrf"

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
NODE_MODULES = Path(os.environ.get("WEB_NODE_MODULES") or HERE / "node_modules")
# the npm packages' files the pages may load, by the folder served as /vendor/<name>/
VENDOR = {
    "leaflet": NODE_MODULES / "leaflet" / "dist",
    "html5-qrcode": NODE_MODULES / "html5-qrcode",
    "chart.js": NODE_MODULES / "chart.js" / "dist",  # the sponsor's dashboard (issue 13)
}
VENDOR_SUFFIXES = {".js", ".css", ".png", ".svg"}

_environments = {}


def environment(language):
    """The Jinja environment of ``language`` (made once per process)."""
    env = _environments.get(language)
    if env is None:
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(load_translations(language), newstyle=True)
        env.filters.update(filters(language))
        env.globals["language"] = language
        _environments[language] = env
    return env


class LoginRequired(Exception):
    """The page needs a logged-in person: they are sent to the login page, then back."""


class PagesServer(WebServer):
    """Listens on ``WEB_PAGES_ADDRESS``; unknown paths get the French 404 page; every answer
    carries the security headers (no framing, a strict content policy, no sniffing)."""

    @property
    def bind_addr(self):
        return parse_address(str(self.container.config.get(ADDRESS_KEY) or DEFAULT_ADDRESS))

    def get_wsgi_app(self):
        app = WsgiApp(self)
        config = self.container.config
        language = str(config.get("WEB_LANGUAGE") or "fr")
        tiles = _tile_origin(str(config.get("MAP_TILE_URL") or ""))
        headers = security_headers(tiles)

        def pages(environ, start_response):
            def start(status, response_headers, exc_info=None):
                names = {name.lower() for name, _ in response_headers}
                extra = [(k, v) for k, v in headers if k.lower() not in names]
                return start_response(status, response_headers + extra, exc_info)

            try:
                app.url_map.bind_to_environ(environ).match()
            except HTTPException as exc:
                status = exc.code if exc.code in (404, 405) else 400
                page = error_page(language, status)
                return page(environ, start)
            return app(environ, start)

        return pages


def _tile_origin(url):
    from services.web.settings import DEFAULT_TILE_URL, Settings

    return Settings(secret="-", tile_url=url or DEFAULT_TILE_URL).tile_origin


def security_headers(tile_origin):
    images = f"'self' data: blob: {tile_origin}".strip()
    policy = (
        "default-src 'self'; "
        f"img-src {images}; "
        "script-src 'self'; "
        "style-src 'self' 'unsafe-inline'; "
        "media-src 'self' blob:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
    )
    return [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()"),
    ]


ERRORS = {  # status: (title, explanation); the words are translated when shown
    400: ("La demande n'a pas pu être lue", "Revenez à la page précédente et recommencez."),
    403: ("Accès refusé", "Cette page n'est pas accessible avec votre compte."),
    404: ("Page introuvable", "Cette adresse ne mène à aucune page."),
    405: ("Action impossible", "Cette page ne s'utilise pas ainsi."),
    413: ("Envoi trop volumineux", "Le formulaire envoyé est trop long."),
    429: ("Trop de tentatives", "Attendez quelques minutes avant de réessayer."),
    500: ("Un problème est survenu", "L'équipe a été prévenue. Réessayez dans un moment."),
    503: (
        "Service momentanément indisponible",
        "Une partie de la plateforme ne répond pas. Réessayez dans un moment.",
    ),
}


def error_page(language, status, message=None):
    title, text = ERRORS.get(status, ERRORS[500])
    env = environment(language)
    html = env.get_template("error.html").render(
        status=status, title=title, text=message or text, person=None, csrf_token=""
    )
    return Response(html, status=status, mimetype="text/html")


def status_of(exc):
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, Unavailable | UnknownService):
        return 503
    if isinstance(exc, AppError):
        return 400
    return 500


class PageHandler(MeasuredHttpHandler):
    server = PagesServer()

    def handle_request(self, request):
        request.max_content_length = MAX_FORM_BYTES
        if request.content_length and request.content_length > MAX_FORM_BYTES:
            return error_page(self._language(), 413)
        return super().handle_request(request)

    def _language(self):
        return str(self.container.config.get("WEB_LANGUAGE") or "fr")

    def response_from_exception(self, exc):
        if isinstance(exc, LoginRequired):
            return redirect("/connexion?suite=" + quote(str(exc.args[0]), safe="/"))
        status = status_of(exc)
        if status >= 500 and not isinstance(exc, Unavailable | UnknownService):
            log.error("page failed: %r", exc, exc_info=not isinstance(exc, RemoteError))
        return error_page(self._language(), status)


def page(method, path):
    """Declare a page: ``method`` (``"GET"``, ``"GET,POST"``) at ``path`` (werkzeug rules)."""
    return PageHandler.decorator(method, path, expected_exceptions=(AppError, LoginRequired))


def redirect(location, status=303):
    return Response("", status=status, headers={"Location": location})


def static_file(folder, name, allowed=None):
    """A file of ``folder`` (never outside it), cached a day by the browser."""
    path = safe_join(str(folder), name)
    if path is None or not Path(path).is_file():
        raise NotFound("no such file", code="file_not_found")
    if allowed is not None and Path(path).suffix not in allowed:
        raise NotFound("no such file", code="file_not_found")
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(
        Path(path).read_bytes(),
        mimetype=mimetype,
        headers={"Cache-Control": "public, max-age=86400"},
    )


class Visit:
    """One request as the pages see it: who is logged in, the CSRF token of its forms, the
    cookies to set on the answer."""

    def __init__(self, request, settings, repo):
        self.request = request
        self.settings = settings
        self.repo = repo
        self.session_token = request.cookies.get(SESSION_COOKIE)
        self.person = repo.session(self.session_token)
        if self.person is None:
            self.session_token = None
        self.seed = request.cookies.get(CSRF_COOKIE)
        self.cookies = []  # (name, value, max_age) to set; value None deletes
        if not self.seed or len(self.seed) > 100:
            self.seed = accounts.new_token()
            self.cookies.append((CSRF_COOKIE, self.seed, None))

    @property
    def csrf_token(self):
        """What every form of the page carries: bound to the session, or to the visitor's
        random cookie before login."""
        return accounts.sign(self.settings.secret, "csrf", self.session_token or self.seed)

    def check_csrf(self):
        """Every POST: the form's token must be this visitor's (else 403, nothing done)."""
        if not accounts.same(self.request.form.get("csrf_token"), self.csrf_token):
            raise Forbidden("the form's token is not this visitor's", code="csrf_failed")

    def require(self, *roles):
        """The logged-in person (of one of ``roles``); else to the login page, or 403."""
        if self.person is None:
            target = self.request.full_path.rstrip("?") if self.request.method == "GET" else None
            raise LoginRequired(target or self.request.path)
        if roles and self.person.role not in roles:
            raise Forbidden("not for this account", code="wrong_role")
        return self.person

    def start_session(self, token):
        self.session_token = token
        self.cookies.append((SESSION_COOKIE, token, self.settings.session_hours * 3600))

    def end_session(self):
        self.session_token = None
        self.person = None
        self.cookies.append((SESSION_COOKIE, None, None))

    def finish(self, response):
        for name, value, max_age in self.cookies:
            if value is None:
                response.delete_cookie(name, path="/", httponly=True, samesite="Lax")
            else:
                response.set_cookie(
                    name,
                    value,
                    max_age=max_age,
                    path="/",
                    httponly=True,
                    samesite="Lax",
                    secure=self.settings.cookie_secure,
                )
        return response

    def render(self, template, status=200, **context):
        env = environment(self.settings.language)
        html = env.get_template(template).render(
            person=self.person,
            csrf_token=self.csrf_token,
            path=self.request.path,
            **context,
        )
        response = Response(html, status=status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return self.finish(response)

    def redirect(self, location):
        return self.finish(redirect(location))
