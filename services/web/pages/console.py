"""The operator's console, part one: venues to accredit, services to approve, API keys."""


class ConsolePages:
    pass
