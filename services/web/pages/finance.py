"""The operator's console, part two: orders and payments, the co-funding campaign, settlement and expiry runs, the ledger."""


class FinancePages:
    pass
