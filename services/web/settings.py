"""The web service's settings, from its config (``deploy/config.yml`` for ``aptic run``,
``services/web/config.yml`` in a container). Every key has a default that works on one machine."""

import dataclasses
import secrets
from dataclasses import dataclass, field

from shared.settings import ConfigSettings

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _key(name, default):
    """A setting read from the config key ``name``."""
    return field(default=default, metadata={"config": name})


@dataclass(frozen=True)
class Settings(ConfigSettings):
    secret: str = _key("WEB_SECRET", "")  # signs CSRF tokens and rating links
    public_url: str = _key("PUBLIC_WEB_URL", "http://127.0.0.1:8001")  # for rating links
    tile_url: str = _key("MAP_TILE_URL", DEFAULT_TILE_URL)  # the map's tile server
    cookie_secure: bool = False  # cookies only over HTTPS (COOKIE_SECURE): true in production
    session_hours: int = 12  # a session ends this long after login (SESSION_HOURS)
    language: str = _key("WEB_LANGUAGE", "fr")  # the pages' language: a catalog in translations/
    trusted_proxies: int = 0  # proxies appending X-Forwarded-For in front (TRUSTED_PROXIES)

    @classmethod
    def from_config(cls, config):
        settings = super().from_config(config)
        if not settings.secret:
            # a secret per process start: sessions survive (they are in the store), but rating
            # links and open forms do not survive a restart. Production sets WEB_SECRET.
            settings = dataclasses.replace(settings, secret=secrets.token_hex(32))
        return settings

    @property
    def tile_origin(self):
        """``https://tile.openstreetmap.org``: what the pages' CSP lets images come from."""
        scheme, _, rest = self.tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}.", "*.")
        return f"{scheme}://{host}" if rest else ""

    def __repr__(self):  # never the secret in a log line
        return f"Settings(public_url={self.public_url!r}, tile_url={self.tile_url!r}, ...)"
