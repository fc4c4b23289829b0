"""Settlement's documents over RPC: the SEPA file of a run, the statements and credit notes
(PDF), their lists, and the chunks of their stored files. A part of :class:`SettlementService`
(``services/settlement/service.py``), which gives it ``store`` and ``settings``.

Each document is made once from its snapshot and stored (``services/settlement/files.py``); an
answer is the file's record, its bytes are read a chunk at a time (``document_file_chunk``).
"""

from services.settlement import api, files, periods
from services.settlement.documents import (
    render_credit_note_pdf,
    render_fund_statement_pdf,
    render_run_summary_pdf,
    render_statement_pdf,
)
from services.settlement.sepa import credit_transfer_xml
from shared.contracts.errors_settlement import DocumentNotFound
from shared.contracts.schemas_settlement import (
    CreditNoteQuery,
    CreditNoteRef,
    CreditNoteSummary,
    FundStatementRef,
    RunRef,
    StatementRef,
    VenueStatementQuery,
    VenueStatementSummary,
)
from shared.entrypoints import rpc


class DocumentRpc:
    @rpc
    def sepa_file(self, run_id):
        """The run's SEPA credit transfer file (pain.001.001.03): payouts, refunds, fund.

        The cooperation fund's contributions are transferred when its account is configured."""
        RunRef().load_or_raise({"run_id": run_id})
        run = api.get_run(self.store, run_id)
        if run["status"] != "completed":
            raise DocumentNotFound("the run is not completed", details={"run_id": run_id})
        transfers = api.sepa_transfers(run)
        if not transfers:
            raise DocumentNotFound(
                "the run pays nobody: no transfer file", details={"run_id": run_id}
            )
        return self._file(
            run_id,
            f"{run_id}.xml",
            lambda: credit_transfer_xml(
                self.settings.debtor(),
                transfers,
                message_id=run_id,
                execution_date=periods.local_date(run["completed_at"], self.settings.zone),
            ),
            "sepa",
        )

    @rpc
    def statement_pdf(self, run_id, venue_id):
        """A venue's payout statement of a run (PDF)."""
        StatementRef().load_or_raise({"run_id": run_id, "venue_id": venue_id})
        snapshot, lines = api.statement(self.store, run_id, venue_id)
        return self._pdf(snapshot["reference"], lambda: render_statement_pdf(snapshot, lines))

    @rpc
    def fund_statement_pdf(self, run_id, department):
        """A department's cooperation fund statement of a run (PDF).

        The run's contributions (1 % of the face value of the orders confirmed since the last
        run) and the transfer to the fund's account, if configured."""
        FundStatementRef().load_or_raise({"run_id": run_id, "department": department})
        snapshot, lines = api.fund_statement(self.store, run_id, department)
        return self._pdf(snapshot["reference"], lambda: render_fund_statement_pdf(snapshot, lines))

    @rpc
    def run_summary_pdf(self, run_id):
        """The operator's summary of a run (PDF)."""
        RunRef().load_or_raise({"run_id": run_id})
        run = api.get_run(self.store, run_id)
        doc = self.store.get_document("run_summary", run_id)
        if run["status"] != "completed" or doc is None:
            raise DocumentNotFound(details={"run_id": run_id})
        return self._pdf(doc["reference"], lambda: render_run_summary_pdf(doc["snapshot"]))

    @rpc
    def credit_note_pdf(self, expiry_run_id, funder_id):
        """A funder's credit note of an expiry run (PDF)."""
        CreditNoteRef().load_or_raise({"expiry_run_id": expiry_run_id, "funder_id": funder_id})
        snapshot = api.credit_note(self.store, expiry_run_id, funder_id)
        return self._pdf(snapshot["reference"], lambda: render_credit_note_pdf(snapshot))

    @rpc
    def list_credit_notes(self, query):
        """Credit notes (expiry refunds and cancelled orders), newest first; ``funder_id``
        filters (``sponsor:<id>`` or ``state``)."""
        data = CreditNoteQuery().load_or_raise(query)
        notes, total = api.credit_notes(
            self.store, data["funder_id"], data["limit"], data["offset"]
        )
        page = {"total": total, "limit": data["limit"], "offset": data["offset"]}
        return {"credit_notes": CreditNoteSummary(many=True).dump(notes), **page}

    @rpc
    def list_venue_statements(self, query):
        """A venue's payout statements (one per run that paid it), newest first."""
        data = VenueStatementQuery().load_or_raise(query)
        statements, total = api.venue_statements(
            self.store, data["venue_id"], data["limit"], data["offset"]
        )
        page = {"total": total, "limit": data["limit"], "offset": data["offset"]}
        return {"statements": VenueStatementSummary(many=True).dump(statements), **page}

    @rpc
    def credit_note_pdf_by_reference(self, reference, funder_id=None):
        """A credit note by its reference (``funder_id``: it must be that funder's)."""
        snapshot = api.credit_note_by_reference(self.store, reference, funder_id)
        return self._pdf(reference, lambda: render_credit_note_pdf(snapshot))

    # -- documents as files -------------------------------------------------------------------
    def _pdf(self, reference, render):
        return self._file(reference, f"{reference}.pdf", render, "pdf")

    def _file(self, reference, filename, render, kind):
        """A document's file record, made and stored once (services/settlement/files.py)."""
        return files.stored(self.store.db, reference, filename, render, kind)

    @rpc
    def document_file_chunk(self, file_id, index):
        """One chunk (1 MiB, ``index`` from 0) of a document's stored file, in base64:
        ``{file_id, index, content_b64}``. The ``file_id`` is the one a document's record gave
        (the caller was allowed that document)."""
        found = files.chunk(self.store.db, file_id, index)
        if found is None:
            raise DocumentNotFound(
                "no such file or chunk",
                details={"file_id": str(file_id)[:120], "index": str(index)[:20]},
            )
        return found
