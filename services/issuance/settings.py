"""The issuance service's settings, from its config (``services/issuance/config.yml``).

``OPERATOR_SECRET`` (makes security codes) is read here and nowhere else in the platform;
``CODE_DIGEST_KEY`` makes the digests redemption checks codes against."""

from dataclasses import dataclass

from services.issuance.domain import BATCH_BOOKLETS
from shared.settings import ConfigSettings

DEFAULT_PUBLIC_SITE_URL = "https://www.aptic.fr"
MAP_PATH = "/carte"  # the public map page (services/web), not the GeoJSON data file


@dataclass(frozen=True)
class Settings(ConfigSettings):
    operator_secret: str = ""
    code_digest_key: str = ""
    public_site_url: str = DEFAULT_PUBLIC_SITE_URL  # printed on covers: where the map is
    batch_booklets: int = BATCH_BOOKLETS  # booklets per booklets_issued event
    print_workers: int = 0  # processes rendering print files; 0 = one per core
    resume_after_seconds: int = 60  # an unfinished issue untouched this long is taken up again
    print_file_hours: int = 24  # a stored print file (it holds codes) is deleted this long after

    def __post_init__(self):  # a service without its secrets does not start
        for name in ("operator_secret", "code_digest_key"):
            if len(getattr(self, name) or "") < 16:
                raise ValueError(f"{name.upper()} must be set (16 characters at least)")

    @property
    def map_url(self):
        return self.public_site_url.rstrip("/") + MAP_PATH

    def __repr__(self):  # never the secrets in a log line or a traceback
        return f"Settings(public_site_url={self.public_site_url!r}, ...)"
