"""The gateway service: the public HTTP API over the services' RPC, and API key management."""

from nameko.rpc import RpcProxy

from services.gateway.auth import ApiKeys, key_out
from services.gateway.routes.catalog import CatalogRoutes
from services.gateway.routes.issuance import IssuanceRoutes
from services.gateway.routes.ordering import OrderingRoutes
from services.gateway.routes.redemption import RedemptionRoutes
from services.gateway.routes.settlement import SettlementRoutes
from services.gateway.routes.system import SystemRoutes
from services.gateway.subjects import create_bound_key
from shared.entrypoints import rpc
from shared.logs import Correlation


class GatewayService(
    SystemRoutes, CatalogRoutes, OrderingRoutes, IssuanceRoutes, RedemptionRoutes, SettlementRoutes
):
    name = "gateway"

    auth = ApiKeys()
    correlation = Correlation()
    catalog_rpc = RpcProxy("catalog")
    ordering_rpc = RpcProxy("ordering")
    issuance_rpc = RpcProxy("issuance")
    redemption_rpc = RpcProxy("redemption")
    settlement_rpc = RpcProxy("settlement")

    @rpc
    def health(self):
        """Liveness: answers when the gateway runs and its key store answers a ping."""
        return {"service": self.name, "store": self.auth.keys.ping()}

    @rpc
    def create_api_key(self, role, subject_id=None, label=None):
        """Create an API key; the key itself is in the answer and nowhere else, ever.

        A sponsor, distributor or venue key is bound to one that exists: else the owning
        service's NotFound (``sponsor_not_found``, ...), or Unavailable when it does not answer."""
        payload = {"role": role, "subject_id": subject_id, "label": label}
        key, record = create_bound_key(self, payload)
        return key_out(record, key)

    @rpc
    def list_api_keys(self):
        """Every key's id, role, binding, label and dates (never a key, nor its hash)."""
        return [key_out(record) for record in self.auth.keys.list()]

    @rpc
    def revoke_api_key(self, key_id):
        """Revoke a key at once: it authenticates nothing any more."""
        self.auth.keys.revoke(key_id)
        return {"key_id": key_id, "revoked": True}
