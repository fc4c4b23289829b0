"""SEPA credit transfer files (pain.001.001.03) with the ``sepaxml`` library, checked against the
official ISO 20022 schema that ``sepaxml`` ships, with lxml."""

import functools
import re
from datetime import date
from importlib import resources

from lxml import etree
from schwifty import IBAN
from sepaxml import SepaTransfer

SCHEMA = "pain.001.001.03"
NAMESPACE = {"p": f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"}
_ID_CHARS = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def _iban(value, who):
    try:
        return IBAN(value).compact
    except ValueError as exc:
        raise ValueError(f"invalid IBAN for {who}: {exc}") from None


def _identifier(text, limit=35):
    """What SEPA allows in an identifier (the Latin subset), cut to ``limit``."""
    return _ID_CHARS.sub("-", text)[:limit]


def credit_transfer_xml(debtor, transfers, message_id, execution_date: date, batch=True):
    """The pain.001 file of ``transfers`` (``{name, iban, bic?, amount_cents, description,
    end_to_end_id}``) from ``debtor`` (``{name, iban, bic}``). Every IBAN is checked; names and
    texts are transliterated and cut by sepaxml; the file is validated before it is returned."""
    config = {
        "name": debtor["name"],
        "IBAN": _iban(debtor["iban"], debtor["name"]),
        "BIC": debtor["bic"],
        "batch": batch,
        "currency": "EUR",
    }
    sepa = SepaTransfer(config, schema=SCHEMA, clean=True)
    # the message id is the run's, whenever the file is made: a bank refuses a file whose id it
    # has already received, so uploading a run's file twice cannot pay it twice
    sepa._xml.find("CstmrCdtTrfInitn/GrpHdr/MsgId").text = _identifier(message_id)
    for transfer in transfers:
        if not isinstance(transfer["amount_cents"], int) or transfer["amount_cents"] <= 0:
            raise ValueError(f"a transfer must be a positive int of cents: {transfer!r}")
        payment = {
            "name": transfer["name"],
            "IBAN": _iban(transfer["iban"], transfer["name"]),
            "amount": transfer["amount_cents"],
            "execution_date": execution_date,
            "description": transfer["description"],
            "endtoend_id": _identifier(transfer["end_to_end_id"]),
        }
        if transfer.get("bic"):
            payment["BIC"] = transfer["bic"]
        sepa.add_payment(payment)
    xml = sepa.export(validate=False)
    validate_pain001(xml)
    return xml


@functools.cache
def _schema():
    path = resources.files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def validate_pain001(xml_bytes):
    """Raise ValueError unless ``xml_bytes`` is valid against the pain.001.001.03 schema."""
    try:
        document = etree.fromstring(xml_bytes)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None
    schema = _schema()
    if not schema.validate(document):
        raise ValueError(f"not a valid {SCHEMA} file: {schema.error_log.last_error}")


def sepa_transfers_total(xml_bytes):
    """``(number of transactions, control sum in cents)`` read back from the group header."""
    document = etree.fromstring(xml_bytes)
    count = document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NAMESPACE)
    total = document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NAMESPACE)
    euros, _, cents = total.partition(".")
    return int(count), int(euros) * 100 + int((cents + "00")[:2])
