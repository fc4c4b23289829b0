"""The issuance service's settings, from its config (``services/issuance/config.yml``).

``OPERATOR_SECRET`` (makes security codes) is read here and nowhere else in the platform;
``CODE_DIGEST_KEY`` makes the digests redemption checks codes against."""

from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from services.issuance.domain import BATCH_BOOKLETS

DEFAULT_PUBLIC_SITE_URL = "https://www.aptic.fr"
MAP_PATH = "/api/v1/map.geojson"


@dataclass(frozen=True)
class Settings:
    operator_secret: str
    code_digest_key: str
    public_site_url: str = DEFAULT_PUBLIC_SITE_URL  # printed on covers: where the map is
    batch_booklets: int = BATCH_BOOKLETS  # booklets per booklets_issued event
    print_workers: int = 0  # processes rendering print files; 0 = one per core
    resume_after_seconds: int = 60  # an unfinished issue untouched this long is taken up again

    @classmethod
    def from_config(cls, config):
        secret, digest_key = config.get("OPERATOR_SECRET"), config.get("CODE_DIGEST_KEY")
        for name, value in (("OPERATOR_SECRET", secret), ("CODE_DIGEST_KEY", digest_key)):
            if not value or len(str(value)) < 16:
                raise ValueError(f"{name} must be set (16 characters at least)")
        values = {"operator_secret": str(secret), "code_digest_key": str(digest_key)}
        for key, cast in (
            ("public_site_url", str),
            ("batch_booklets", int),
            ("print_workers", int),
            ("resume_after_seconds", int),
        ):
            if config.get(key.upper()) not in (None, ""):
                values[key] = cast(config[key.upper()])
        return cls(**values)

    @property
    def map_url(self):
        return self.public_site_url.rstrip("/") + MAP_PATH

    def __repr__(self):  # never the secrets in a log line or a traceback
        return f"Settings(public_site_url={self.public_site_url!r}, ...)"


class IssuanceSettings(DependencyProvider):
    """Injects the :class:`Settings` read once from the container's config."""

    def setup(self):
        self.settings = Settings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
