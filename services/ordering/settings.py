"""The ordering service's settings: the operator's identity on invoices, payment terms, the
default State co-funding campaign. Config keys (``services/ordering/config.yml``) with defaults."""

from dataclasses import dataclass

from services.ordering.domain import COFUNDING_MIN_FACE_VALUE_CENTS, DEFAULT_ENVELOPE_CENTS
from shared.money import STATE_COFUNDING_BP
from shared.settings import ConfigSettings, OperatorIdentity


@dataclass(frozen=True)
class Settings(ConfigSettings, OperatorIdentity):
    # config key = the field name in upper case; the operator_* fields: OperatorIdentity's
    operator_email: str = "facturation@aptic.fr"  # invoices' contact
    invoice_due_days: int = 30
    cofunding_rate_bp: int = STATE_COFUNDING_BP  # default campaign of a year nobody set
    cofunding_envelope_cents: int = DEFAULT_ENVELOPE_CENTS
    cofunding_min_face_value_cents: int = COFUNDING_MIN_FACE_VALUE_CENTS
