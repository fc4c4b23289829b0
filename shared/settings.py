"""A service's settings: a frozen dataclass whose fields are its config keys in lower case
(``services/<name>/config.yml``), read once when the service's container starts."""

import dataclasses

from nameko.extensions import DependencyProvider


class ConfigSettings:
    """A mixin for a service's frozen dataclass of settings: ``from_config`` reads each field
    from the config key of its name in upper case (or the one its metadata names: ``config``),
    cast to the field's type; a key missing, empty or None leaves the field's default."""

    @classmethod
    def from_config(cls, config):
        values = {}
        for field in dataclasses.fields(cls):
            value = config.get(field.metadata.get("config", field.name.upper()))
            if value in (None, ""):
                continue
            if field.type is bool and isinstance(value, str):  # bool("false") is True
                value = value.strip().lower() in ("1", "true", "yes", "on")
            values[field.name] = field.type(value)
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class OperatorIdentity:
    """The ``operator_*`` settings (name, address, siret, vat_mention, iban, bic, email): the
    operator as printed on its documents, with their defaults; a service's settings dataclass
    inherits them (and may give ``operator_email`` a default of its own)."""

    operator_name: str = "APTIC"
    operator_address: str = "12 rue de la Médiation, 33000 Bordeaux"
    operator_siret: str = "73282932000074"
    operator_vat_mention: str = "TVA non applicable, art. 293 B du CGI"
    operator_iban: str = "FR7630006000011234567890189"
    operator_bic: str = "AGRIFRPP"
    operator_email: str = "contact@aptic.fr"

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


class SettingsProvider(DependencyProvider):
    """Injects a service's settings (``settings_class.from_config``), read once at start."""

    def __init__(self, settings_class):
        self.settings_class = settings_class

    def setup(self):
        self.settings = self.settings_class.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
