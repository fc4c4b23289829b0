"""Routes of settlement: settlement and expiry runs, their documents, the ledger's balance and the
sponsors' expiry alerts (docs/gateway.md, docs/settlement.md)."""

from services.gateway.answers import listing
from services.gateway.http import (
    API_PREFIX,
    json_response,
    query_args,
    read_json,
    route,
    stored_file_response,
    wants_async,
)
from services.gateway.rpc import call, decode_file
from services.gateway.subjects import require_subject
from shared.contracts import schemas_settlement as settlement

TAG = "settlement"
RUN_TIMEOUT = 600  # a big run takes minutes; asked again, it resumes where it stopped
DOCUMENT_TIMEOUT = 120


class SettlementRoutes:
    def _start(self, request, begin, run, path):
        """Ask for a run: made while the request waits (201, or 200 for the same day again),
        or with ``Prefer: respond-async`` begun and answered at once (202, its address)."""
        caller = self.auth.require(request)
        body = read_json(request)
        if wants_async(request):
            begun = call(begin, body, caller.actor())
            return _accepted(begun, f"{path}/{begun['id']}")
        answer = call(run, body, caller.actor(), timeout=RUN_TIMEOUT)
        return json_response(answer, 201 if answer.get("created") else 200)

    def _document(self, request, record, mimetype):
        """A document stored by settlement, streamed a chunk (1 MiB) per RPC as it is sent."""
        proxy = self.settlement_rpc

        def read_chunk(index):
            return decode_file(call(proxy.document_file_chunk, record["file_id"], index))

        return stored_file_response(request, record, mimetype, read_chunk)

    @route(
        "POST",
        "/settlement-runs",
        summary="Pay venues for everything redeemed up to the end of period_end (a day in the "
        "operator's timezone) and funders their refunds (201); idempotent: the same period_end "
        "answers the same run (200); a day still to come is 422 period_not_over. With "
        "Prefer: respond-async, 202 at once and the run's address to poll (its progress)",
        tag=TAG,
        roles=("operator",),
        body=settlement.RunInput,
        response=settlement.RunStartedOut,
        status=201,
        also=(200,),
        accepted=settlement.RunAcceptedOut,
    )
    def settlement_start_run(self, request):
        rpc = self.settlement_rpc
        return self._start(
            request, rpc.begin_settlement_run, rpc.run_settlement, "/settlement-runs"
        )

    @route(
        "GET",
        "/settlement-runs",
        summary="Settlement runs, newest first, without their payouts (GET one run for them), "
        "a page at a time (limit, offset; total: how many runs)",
        tag=TAG,
        roles=("operator",),
        query=settlement.RunListQuery,
        response=listing("RunListOut", "runs", settlement.RunOut),
    )
    def settlement_list_runs(self, request):
        self.auth.require(request)
        query = query_args(request, "limit", "offset")
        return json_response(call(self.settlement_rpc.list_settlement_runs, query))

    @route(
        "GET",
        "/settlement-runs/<run_id>",
        summary="A settlement run: payouts per venue, totals, refunds, the run's fee income "
        "and cooperation fund contributions per department, progress",
        tag=TAG,
        roles=("operator",),
        response=settlement.RunOut,
    )
    def settlement_get_run(self, request, run_id):
        self.auth.require(request)
        return json_response(call(self.settlement_rpc.get_settlement_run, run_id))

    @route(
        "GET",
        "/settlement-runs/<run_id>/sepa.xml",
        summary="SEPA credit transfer file (pain.001.001.03) of the run's payouts, refunds and "
        "cooperation fund transfers",
        tag=TAG,
        roles=("operator",),
        content="application/xml",
    )
    def settlement_sepa(self, request, run_id):
        self.auth.require(request)
        document = call(self.settlement_rpc.sepa_file, run_id, timeout=DOCUMENT_TIMEOUT)
        return self._document(request, document, "application/xml")

    @route(
        "GET",
        "/settlement-runs/<run_id>/summary.pdf",
        summary="The operator's summary of a run (PDF)",
        tag=TAG,
        roles=("operator",),
        content="application/pdf",
    )
    def settlement_summary_pdf(self, request, run_id):
        self.auth.require(request)
        document = call(self.settlement_rpc.run_summary_pdf, run_id, timeout=DOCUMENT_TIMEOUT)
        return self._document(request, document, "application/pdf")

    @route(
        "GET",
        "/settlement-runs/<run_id>/fund-statements/<department>.pdf",
        summary="A department's cooperation fund statement of a run (PDF): the run's "
        "contributions and the transfer to the fund's account",
        tag=TAG,
        roles=("operator",),
        content="application/pdf",
    )
    def settlement_fund_statement_pdf(self, request, run_id, department):
        self.auth.require(request)
        document = call(
            self.settlement_rpc.fund_statement_pdf, run_id, department, timeout=DOCUMENT_TIMEOUT
        )
        return self._document(request, document, "application/pdf")

    @route(
        "GET",
        "/settlement-runs/<run_id>/statements/<venue_id>.pdf",
        summary="A venue's payout statement of a run (PDF)",
        tag=TAG,
        roles=("venue", "operator"),
        content="application/pdf",
    )
    def settlement_statement_pdf(self, request, run_id, venue_id):
        caller = self.auth.require(request)
        caller.require_owner("venue", venue_id)
        document = call(
            self.settlement_rpc.statement_pdf, run_id, venue_id, timeout=DOCUMENT_TIMEOUT
        )
        return self._document(request, document, "application/pdf")

    @route(
        "POST",
        "/expiry-runs",
        summary="Expire coupons past validity and grace month (and of cancelled booklets) as "
        "of as_of (a day in the operator's timezone); refund funders pro rata (201); idempotent "
        "per as_of (200); a day still to come is 422 period_not_over. With Prefer: "
        "respond-async, 202 at once and the run's address to poll (its progress)",
        tag=TAG,
        roles=("operator",),
        body=settlement.ExpiryRunInput,
        response=settlement.ExpiryRunStartedOut,
        status=201,
        also=(200,),
        accepted=settlement.RunAcceptedOut,
    )
    def settlement_start_expiry(self, request):
        rpc = self.settlement_rpc
        return self._start(request, rpc.begin_expiry_run, rpc.run_expiry, "/expiry-runs")

    @route(
        "GET",
        "/expiry-runs/<run_id>",
        summary="An expiry run: coupons expired, refunds, credit notes",
        tag=TAG,
        roles=("operator",),
        response=settlement.ExpiryRunOut,
    )
    def settlement_get_expiry(self, request, run_id):
        self.auth.require(request)
        return json_response(call(self.settlement_rpc.get_expiry_run, run_id))

    @route(
        "GET",
        "/expiry-runs/<run_id>/credit-notes/<funder_id>.pdf",
        summary="A funder's credit note (PDF); funder_id is sponsor:<id> or state",
        tag=TAG,
        roles=("sponsor", "operator"),
        content="application/pdf",
    )
    def settlement_credit_note_pdf(self, request, run_id, funder_id):
        caller = self.auth.require(request)
        if not caller.is_operator():
            caller.require_owner("sponsor", funder_id.removeprefix("sponsor:"))
            if not funder_id.startswith("sponsor:"):
                caller.require_owner("operator", None)
        document = call(
            self.settlement_rpc.credit_note_pdf, run_id, funder_id, timeout=DOCUMENT_TIMEOUT
        )
        return self._document(request, document, "application/pdf")

    @route(
        "GET",
        "/credit-notes",
        summary="Credit notes (refunds of unused coupons, cancelled orders), newest first; "
        "a sponsor sees its own (query: funder_id), a page at a time (limit, offset; total)",
        tag=TAG,
        roles=("sponsor", "operator"),
        query=settlement.CreditNoteQuery,
        response=listing("CreditNoteListOut", "credit_notes", settlement.CreditNoteSummary),
    )
    def settlement_list_credit_notes(self, request):
        caller = self.auth.require(request)
        query = query_args(request, "funder_id", "limit", "offset")
        if not caller.is_operator():
            query["funder_id"] = f"sponsor:{caller.subject_id}"
        return json_response(call(self.settlement_rpc.list_credit_notes, query))

    @route(
        "GET",
        "/credit-notes/<reference>.pdf",
        summary="A credit note by its reference (PDF)",
        tag=TAG,
        roles=("sponsor", "operator"),
        content="application/pdf",
    )
    def settlement_credit_note_by_reference(self, request, reference):
        caller = self.auth.require(request)
        funder_id = None if caller.is_operator() else f"sponsor:{caller.subject_id}"
        document = call(
            self.settlement_rpc.credit_note_pdf_by_reference,
            reference,
            funder_id,
            timeout=DOCUMENT_TIMEOUT,
        )
        return self._document(request, document, "application/pdf")

    @route(
        "GET",
        "/ledger/balance",
        summary="Money in, money out, liabilities by account: proves conservation; the ledger's "
        "invariants (balanced only if all hold, violations named) and refused events",
        tag=TAG,
        roles=("operator",),
        response=settlement.BalanceOut,
    )
    def settlement_balance(self, request):
        self.auth.require(request)
        return json_response(call(self.settlement_rpc.ledger_balance, timeout=60))

    @route(
        "GET",
        "/sponsors/<sponsor_id>/dashboard",
        summary="Anonymised use of the sponsor's coupons: handed out, redeemed, expired, "
        "outstanding, by month, venue, category, territory, beneficiaries' age band and public; "
        "no cell under 5 beneficiaries, the totals included (null when hidden); a sponsor that "
        "does not exist is 404 sponsor_not_found",
        tag=TAG,
        roles=("sponsor", "operator"),
        response=settlement.DashboardOut,
        errors={404: ("sponsor_not_found",)},
    )
    def settlement_dashboard(self, request, sponsor_id):
        caller = self.auth.require(request)
        caller.require_owner("sponsor", sponsor_id)
        require_subject(self, "sponsor", sponsor_id, caller.actor())  # 404 sponsor_not_found
        return json_response(call(self.settlement_rpc.sponsor_dashboard, sponsor_id, timeout=60))

    @route(
        "GET",
        "/sponsors/<sponsor_id>/expiry-alerts",
        summary="Booklets whose validity ends within 30 days of as_of: issued, handed out, "
        "not yet handed out, started; a sponsor that does not exist is 404 sponsor_not_found",
        tag=TAG,
        roles=("sponsor", "operator"),
        query=settlement.AlertsQuery,
        response=settlement.AlertsOut,
        errors={404: ("sponsor_not_found",)},
    )
    def settlement_expiry_alerts(self, request, sponsor_id):
        caller = self.auth.require(request)
        caller.require_owner("sponsor", sponsor_id)
        require_subject(self, "sponsor", sponsor_id, caller.actor())  # 404 sponsor_not_found
        return json_response(
            call(self.settlement_rpc.expiry_alerts, sponsor_id, query_args(request, "as_of"))
        )


def _accepted(begun, path):
    """202 Accepted: the run goes on; ``Location`` (and ``location``) is where to poll it."""
    location = API_PREFIX + path
    answer = {**begun, "location": location}
    return json_response(
        answer, 202, headers={"Location": location, "Preference-Applied": "respond-async"}
    )
