"""The web service: pages for people (the public map, the venue desk, ratings, accounts) over
the other services' RPC, server-rendered in French. See docs/web.md."""

import time

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.web.http import Visit
from services.web.pages.accounts import AccountPages
from services.web.pages.application import ApplicationPages
from services.web.pages.console import ConsolePages
from services.web.pages.dashboard import DashboardPages
from services.web.pages.desk import DeskPages
from services.web.pages.distributor import DistributorPages
from services.web.pages.finance import FinancePages
from services.web.pages.operator import OperatorPages
from services.web.pages.public import PublicPages
from services.web.pages.rating import RatingPages
from services.web.pages.sponsor import SponsorPages
from services.web.rpc import call
from services.web.settings import Settings
from services.web.store import WebRepository
from services.web.users import create_account
from shared.entrypoints import rpc
from shared.mongo import get_database
from shared.times import iso

FEATURES_SECONDS = 60  # the venues' places, kept this long to locate what people type


class Web:
    """What a page needs: the settings, the store, a visit per request."""

    def __init__(self, settings, repo, cache):
        self.settings = settings
        self.repo = repo
        self._cache = cache

    def visit(self, request):
        return Visit(request, self.settings, self.repo)

    def features(self, catalog_rpc):
        """The accredited venues' GeoJSON features (a minute old at most)."""
        at, features = self._cache.get("features", (0.0, None))
        if features is None or time.monotonic() - at > FEATURES_SECONDS:
            features = call(catalog_rpc.map_geojson)["features"]
            self._cache["features"] = (time.monotonic(), features)
        return features

    def forget_features(self):
        """Read the venues' places again at the next search (a venue accredited, suspended)."""
        self._cache.pop("features", None)


class WebDependency(DependencyProvider):
    """Injects :class:`Web`: settings read once, the web database, its indexes made."""

    def setup(self):
        self.settings = Settings.from_config(self.container.config)
        self.db = get_database(self.container.config, self.container.service_name)
        WebRepository.ensure_indexes(self.db)
        self.cache = {}

    def get_dependency(self, worker_ctx):
        return Web(self.settings, WebRepository(self.db), self.cache)


class WebService(
    PublicPages,
    AccountPages,
    DeskPages,
    RatingPages,
    OperatorPages,
    DistributorPages,
    SponsorPages,
    DashboardPages,
    ConsolePages,
    FinancePages,
    ApplicationPages,
):
    name = "web"

    web = WebDependency()
    catalog_rpc = RpcProxy("catalog")
    ordering_rpc = RpcProxy("ordering")
    redemption_rpc = RpcProxy("redemption")
    issuance_rpc = RpcProxy("issuance")
    settlement_rpc = RpcProxy("settlement")
    gateway_rpc = RpcProxy("gateway")  # API keys (the operator's console)

    @rpc
    def health(self):
        """Liveness: answers when the pages run and their store answers a ping."""
        return {"service": self.name, "store": self.web.repo.ping()}

    @rpc
    def create_user(self, email, role, subject_id=None, password=None):
        """Create a person's account for the web pages (``aptic users create``).

        Bound to the venue, sponsor or distributor ``subject_id`` (it must exist; none for an
        operator); the password has 12 characters at least and is stored hashed (argon2)."""
        payload = {"email": email, "role": role, "subject_id": subject_id, "password": password}
        return _dated(create_account(self, payload))

    @rpc
    def list_users(self):
        """Every account: e-mail, role, binding, creation date (never a password hash)."""
        return [_dated(user) for user in self.web.repo.list_users()]


def _dated(record):
    return {**record, "created_at": iso(record["created_at"])}
