"""The settlement service's settings: the operator as printed on statements and credit notes and
as the debtor of transfers, its timezone (cut-offs and dates on documents), the State as a
funder, batch sizes. Config keys (``services/settlement/config.yml``) are the field names in
upper case."""

from dataclasses import dataclass, fields

from nameko.extensions import DependencyProvider

from services.settlement import periods


@dataclass(frozen=True)
class Settings:
    operator_name: str = "APTIC"
    operator_address: str = "12 rue de la Médiation, 33000 Bordeaux"
    operator_siret: str = "73282932000074"
    operator_vat_mention: str = "TVA non applicable, art. 293 B du CGI"
    operator_iban: str = "FR7630006000011234567890189"
    operator_bic: str = "AGRIFRPP"
    operator_email: str = "reglements@aptic.fr"
    # cut-offs, as_of days and the dates printed on documents are days of this timezone
    operator_timezone: str = periods.DEFAULT_TIMEZONE
    # the State (ANCT) as a co-funder: its share of unused coupons is refunded here
    state_name: str = "État - Agence nationale de la cohésion des territoires"
    state_iban: str = "FR5210071750000000100002937"
    state_bic: str = "TRPUFRP1"
    event_batch_size: int = 1000  # redemption ids / coupon serials per event

    def __post_init__(self):
        periods.zone(self.operator_timezone)  # an unknown timezone stops the service at start

    @property
    def zone(self):
        """The operator's timezone (``ZoneInfo``)."""
        return periods.zone(self.operator_timezone)

    @classmethod
    def from_config(cls, config):
        values = {}
        for field in fields(cls):
            key = field.name.upper()
            if config.get(key) not in (None, ""):
                values[field.name] = field.type(config[key])
        return cls(**values)

    def issuer(self):
        """The operator as printed on documents (stored with each document: never re-read)."""
        return {
            "name": self.operator_name,
            "address": self.operator_address,
            "siret": self.operator_siret,
            "vat_mention": self.operator_vat_mention,
            "iban": self.operator_iban,
            "bic": self.operator_bic,
            "email": self.operator_email,
        }

    def debtor(self):
        """The account every transfer of a run leaves from."""
        return {"name": self.operator_name, "iban": self.operator_iban, "bic": self.operator_bic}

    def state_funder(self):
        return {
            "funder_id": "state",
            "name": self.state_name,
            "kind": "state",
            "iban": self.state_iban,
            "bic": self.state_bic,
        }


class SettlementSettings(DependencyProvider):
    """Injects the :class:`Settings` read once from the container's config."""

    def setup(self):
        self.settings = Settings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
