"""Where each service class lives (imported on demand)."""

import importlib

SERVICES = {
    "catalog": "services.catalog.service:CatalogService",
    "ordering": "services.ordering.service:OrderingService",
    "issuance": "services.issuance.service:IssuanceService",
    "redemption": "services.redemption.service:RedemptionService",
    "settlement": "services.settlement.service:SettlementService",
    "gateway": "services.gateway.service:GatewayService",
    "web": "services.web.service:WebService",
}


def service_class(name):
    module, _, attr = SERVICES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def all_service_classes(names=None):
    return [service_class(name) for name in (names or SERVICES)]
