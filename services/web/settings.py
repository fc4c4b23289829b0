"""The web service's settings, from its config (``deploy/config.yml`` for ``aptic run``,
``services/web/config.yml`` in a container). Every key has a default that works on one machine."""

import secrets
from dataclasses import dataclass

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILE_ATTRIBUTION = "© OpenStreetMap"


@dataclass(frozen=True)
class Settings:
    secret: str  # signs CSRF tokens and rating links (WEB_SECRET)
    public_url: str = "http://127.0.0.1:8001"  # where people reach the pages (rating links)
    tile_url: str = DEFAULT_TILE_URL  # the map's tile server (MAP_TILE_URL)
    cookie_secure: bool = False  # cookies only over HTTPS (COOKIE_SECURE): true in production
    session_hours: int = 12  # a session ends this long after login (SESSION_HOURS)
    language: str = "fr"  # the pages' language (WEB_LANGUAGE): a catalog in translations/
    rpc_timeout: float = 30.0
    trusted_proxies: int = 0  # proxies appending X-Forwarded-For in front (TRUSTED_PROXIES)

    @classmethod
    def from_config(cls, config):
        secret = str(config.get("WEB_SECRET") or "")
        if not secret:
            # a secret per process start: sessions survive (they are in the store), but rating
            # links and open forms do not survive a restart. Production sets WEB_SECRET.
            secret = secrets.token_hex(32)
        values = {"secret": secret}
        for key, name, cast in (
            ("public_url", "PUBLIC_WEB_URL", str),
            ("tile_url", "MAP_TILE_URL", str),
            ("cookie_secure", "COOKIE_SECURE", _flag),
            ("session_hours", "SESSION_HOURS", int),
            ("language", "WEB_LANGUAGE", str),
            ("rpc_timeout", "RPC_TIMEOUT", float),
            ("trusted_proxies", "TRUSTED_PROXIES", int),
        ):
            if config.get(name) not in (None, ""):
                values[key] = cast(config[name])
        return cls(**values)

    @property
    def tile_origin(self):
        """``https://tile.openstreetmap.org``: what the pages' CSP lets images come from."""
        scheme, _, rest = self.tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}.", "*.")
        return f"{scheme}://{host}" if rest else ""

    def __repr__(self):  # never the secret in a log line
        return f"Settings(public_url={self.public_url!r}, tile_url={self.tile_url!r}, ...)"


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")
