"""The settlement service's settings: the operator as printed on statements and credit notes and
as the debtor of transfers, its timezone (cut-offs and dates on documents), the State as a
funder, the cooperation fund's account, batch sizes. Config keys
(``services/settlement/config.yml``) are the field names in upper case."""

from dataclasses import dataclass

from nameko.extensions import DependencyProvider
from schwifty import IBAN

from services.settlement import periods
from shared.settings import ConfigSettings, OperatorIdentity

FUND_DEFAULT_NAME = "Fonds de coopération territoriale"


@dataclass(frozen=True)
class Settings(ConfigSettings, OperatorIdentity):
    # the operator_* fields: OperatorIdentity's (shared.settings)
    operator_email: str = "reglements@aptic.fr"  # statements' and credit notes' contact
    # cut-offs, as_of days and the dates printed on documents are days of this timezone
    operator_timezone: str = periods.DEFAULT_TIMEZONE
    # the State (ANCT) as a co-funder: its share of unused coupons is refunded here
    state_name: str = "État - Agence nationale de la cohésion des territoires"
    state_iban: str = "FR5210071750000000100002937"
    state_bic: str = "TRPUFRP1"
    # the cooperation fund's account: each settlement run transfers the fund's contributions
    # there (one line per department); empty: no transfer, the contributions are stated and kept
    cooperation_fund_iban: str = ""
    cooperation_fund_bic: str = ""
    cooperation_fund_name: str = ""
    event_batch_size: int = 1000  # redemption ids / coupon serials per event
    # the monthly settlement run and the daily expiry run made by the service's timer
    # (services/settlement/schedule.py); off unless configured (``aptic run`` and compose: on)
    scheduled_runs: bool = False

    def __post_init__(self):
        periods.zone(self.operator_timezone)  # an unknown timezone stops the service at start
        if self.cooperation_fund_iban:  # a bad IBAN stops the service at start, not at a run
            try:
                IBAN(self.cooperation_fund_iban)
            except ValueError as exc:
                raise ValueError(f"COOPERATION_FUND_IBAN: {exc}") from None

    @property
    def zone(self):
        """The operator's timezone (``ZoneInfo``)."""
        return periods.zone(self.operator_timezone)

    def debtor(self):
        """The account every transfer of a run leaves from."""
        return {"name": self.operator_name, "iban": self.operator_iban, "bic": self.operator_bic}

    def fund_account(self):
        """The cooperation fund's account (``{name, iban, bic}``), or None if not configured."""
        if not self.cooperation_fund_iban:
            return None
        return {
            "name": self.cooperation_fund_name or FUND_DEFAULT_NAME,
            "iban": IBAN(self.cooperation_fund_iban).compact,
            "bic": self.cooperation_fund_bic or None,
        }


class SettlementSettings(DependencyProvider):
    """Injects the :class:`Settings` read once from the container's config."""

    def setup(self):
        self.settings = Settings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
