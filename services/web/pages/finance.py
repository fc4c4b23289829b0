"""The operator's console, part two: orders and payments, the co-funding campaign, settlement and
expiry runs (started without waiting, their progress, documents and SEPA file), the ledger."""

import re
import time
from datetime import date, timedelta

from werkzeug.wrappers import Response

from services.web.http import page
from services.web.i18n import PARIS
from services.web.rpc import call, decode_file
from shared import times
from shared.errors import AppError, InvalidInput, NotFound
from shared.money import format_eur

PRINT_TIMEOUT = 600  # a large order's print file takes minutes the first time


def _(text):  # marked for translation; the pages translate it when they show it
    return text


# -- amounts typed the French way ------------------------------------------------------------------
MAX_EUROS_DIGITS = 11  # a hundred billion euros: more is a typing mistake
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_AMOUNT = re.compile(r"(?P<euros>\d{1,3}(?: \d{3})+|\d+)(?:,(?P<cents>\d{1,2}))?")
_RATE = re.compile(r"(?P<whole>\d{1,3})(?:,(?P<decimals>\d{1,2}))?")


def parse_euros(text):
    """Integer cents of an amount in euros typed the French way: ``"1 040,00"`` is 104000.

    Thousands may be grouped by spaces (ordinary, no-break or narrow no-break), by threes; a
    comma before one or two decimals; a ``€`` after. Anything else (a point, a sign, three
    decimals, letters) is :class:`ValueError`: money is never guessed, never a float."""
    cleaned = _SPACES.sub(" ", str(text or "")).strip()
    if cleaned.endswith("€"):
        cleaned = cleaned[:-1].rstrip()
    found = _AMOUNT.fullmatch(cleaned)
    if found is None:
        raise ValueError(f"not an amount in euros: {text!r}")
    euros = found["euros"].replace(" ", "")
    if len(euros.lstrip("0")) > MAX_EUROS_DIGITS:
        raise ValueError(f"too large an amount: {text!r}")
    cents = (found["cents"] or "0").ljust(2, "0")
    return int(euros) * 100 + int(cents)


def parse_rate_bp(text):
    """Basis points of a rate typed as a percentage: ``"50"`` is 5000, ``"37,5 %"`` 3750."""
    cleaned = _SPACES.sub("", str(text or "")).removesuffix("%")
    found = _RATE.fullmatch(cleaned)
    if found is None:
        raise ValueError(f"not a percentage: {text!r}")
    bp = int(found["whole"]) * 100 + int((found["decimals"] or "0").ljust(2, "0"))
    if not 0 < bp <= 10_000:
        raise ValueError(f"not a rate between 0 and 100 %: {text!r}")
    return bp


def rate_text(bp):
    """``5000`` is ``"50"``, ``3750`` ``"37,5"``: a rate as people type it."""
    whole, rest = divmod(bp, 100)
    return f"{whole},{rest:02d}".rstrip("0").rstrip(",")


# -- days --------------------------------------------------------------------------------------
def paris_today():
    return times.now().astimezone(PARIS).date()


def end_of_last_month(today):
    """The last day of the month before ``today``'s: a settlement's usual cut-off."""
    return today.replace(day=1) - timedelta(days=1)


def parse_day(text):
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


# -- names people read ---------------------------------------------------------------------------
AWAITING_DECISION = "cofunding_pending"
AWAITING_PAYMENT = ("submitted", "cofunding_approved", "cofunding_refused")
RECENTLY_PAID = ("confirmed", "issued")  # the latest of each: booklets being printed, or done

ORDER_STATUSES = {
    "draft": _("Brouillon"),
    "submitted": _("En attente de paiement"),
    "cofunding_pending": _("Cofinancement à décider"),
    "cofunding_approved": _("Cofinancement accordé, en attente de paiement"),
    "cofunding_refused": _("Cofinancement refusé, en attente de paiement"),
    "confirmed": _("Payée : carnets en cours d'émission"),
    "issued": _("Carnets émis"),
    "dispatched": _("Carnets expédiés"),
    "cancelled": _("Annulée"),
}

PAYERS = {"sponsor": _("Le commanditaire"), "state": _("L'État (cofinancement)")}

ORDER_REFUSALS = {
    "invalid_order_transition": _("Cette commande n'est plus à cette étape : rechargez la page."),
    "payment_reference_conflict": _(
        "Cette référence bancaire est déjà enregistrée pour un autre paiement."
    ),
    "overpayment": _("Ce montant dépasse ce qui reste à payer par ce payeur."),
    "state_payment_not_expected": _("L'État ne paie rien pour cette commande."),
    "envelope_below_reserved": _(
        "L'enveloppe ne peut pas descendre sous ce qui est déjà engagé pour des commandes."
    ),
    "invoice_not_issued": _("La facture de cette commande n'est pas encore émise."),
    "validation_error": _("Une valeur n'est pas acceptée : vérifiez le formulaire."),
}
FORM_PROBLEMS = {
    "amount": _("Montant invalide : écrivez-le en euros, par exemple 1 040,00."),
    "reference": _(
        "Indiquez la référence bancaire du virement (lettres, chiffres, espaces, . _ / : -)."
    ),
    "payer": _("Choisissez qui a payé."),
    "reason": _("Indiquez la raison de la décision (3 caractères au moins)."),
    "decision": _("Choisissez d'accorder ou de refuser le cofinancement."),
    "rate": _("Taux invalide : un pourcentage entre 0 et 100, par exemple 50 ou 37,5."),
    "day": _("Date invalide."),
}
RUN_REFUSALS = {
    "period_not_over": _("Ce jour n'est pas encore passé : choisissez aujourd'hui ou avant."),
    "invalid_period": _("Ce jour est hors de la vie du dispositif."),
    "run_in_progress": _("Un autre traitement est en cours : attendez qu'il se termine."),
}

RUN_STATUSES = {
    "claiming": _("Recensement des encaissements"),
    "computing": _("Calcul des paiements"),
    "expiring": _("Recherche des chèques expirés"),
    "refunding": _("Calcul des remboursements"),
    "completed": _("Terminé"),
}
PHASES = {
    "claiming": _("encaissements recensés"),
    "payouts": _("lignes payées"),
    "booklets": _("carnets examinés"),
    "refunds": _("remboursements"),
}
INVARIANTS = {
    "journal_balanced": _(
        "Chaque écriture est équilibrée : argent reçu = argent versé + dettes + frais"
    ),
    "no_negative_liability": _("Aucune dette n'est négative"),
    "order_money_out_within_money_in": _("Pour chaque commande, pas plus d'argent versé que reçu"),
    "coupon_paid_out_once": _("Chaque chèque n'est payé qu'une fois"),
}
ANOMALIES = {
    "cancellation_refused": _("Annulation refusée (commande déjà confirmée)"),
    "confirmation_refused": _("Confirmation refusée"),
    "coupons_of_cancelled_order": _("Chèques d'une commande annulée"),
    "redemption_disputed": _("Encaissement contesté"),
    "void_refused": _("Annulation d'un encaissement déjà payé"),
}
REFRESH_SECONDS = 2  # a running run's page reloads itself (static/finance.js; else a link)
STALL_SECONDS = 60  # asked for this long ago and not begun: say so, stop reloading
REFERENCE = re.compile(r"[A-Za-z0-9 ._/:-]{1,64}")


def _form(request, *names, limit=500):
    return {name: (request.form.get(name) or "").strip()[:limit] for name in names}


def _attempt(action):
    """Make a form's call: ``(True, None)`` when done, else ``(False, code)``, the code of the
    refusal to show on the form again. A missing order is a 404, not a form problem."""
    try:
        action()
    except InvalidInput:
        return False, "validation_error"
    except NotFound:
        raise
    except AppError as exc:
        return False, exc.code
    return True, None


def _file_response(visit, document, mimetype, fallback, read_chunk=None):
    """A document as a download: whole when it came whole, else read a chunk per RPC while it
    is sent (``read_chunk(index)``: a stored file's chunk, ``{"content_b64": ...}``)."""
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", document.get("filename") or fallback)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if "content_b64" in document or read_chunk is None:
        body = decode_file(document)
    else:
        count = -(-document["size"] // document["chunk_bytes"])
        body = (decode_file(read_chunk(index)) for index in range(count))
        headers["Content-Length"] = str(document["size"])
    return visit.finish(Response(body, mimetype=mimetype, headers=headers))


class FinancePages:
    # -- orders, payments, the campaign ----------------------------------------------------------
    def _fin_orders(self, person, status):
        query = {"status": status, "limit": 500}
        return call(self.ordering_rpc.list_orders, query, person.actor())["orders"]

    def _fin_latest(self, person, status, count=10):
        """The ``count`` orders of ``status`` that came last (the list is oldest first)."""
        total = call(self.ordering_rpc.list_orders, {"status": status, "limit": 1}, person.actor())[
            "total"
        ]
        query = {"status": status, "limit": count, "offset": max(0, total - count)}
        return call(self.ordering_rpc.list_orders, query, person.actor())["orders"][::-1]

    def _fin_campaign(self):
        return call(self.ordering_rpc.get_cofunding_campaign, times.now().year)

    @page("GET,POST", "/operateur/commandes")
    def operator_orders(self, request):
        """Orders awaiting a co-funding decision or payments; the year's campaign (changed here)."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        values, problem, saved = {}, None, False
        if request.method == "POST":  # the campaign's rate and envelope
            visit.check_csrf()
            values = _form(request, "rate", "envelope", limit=40)
            try:
                rate_bp = parse_rate_bp(values["rate"])
            except ValueError:
                problem = "rate"
            else:
                try:
                    envelope = parse_euros(values["envelope"])
                except ValueError:
                    problem = "amount"
            if problem is None:
                payload = {
                    "year": self._fin_campaign()["year"],
                    "rate_bp": rate_bp,
                    "envelope_cents": envelope,
                }
                try:
                    call(self.ordering_rpc.set_cofunding_campaign, payload, person.actor())
                    return visit.redirect("/operateur/commandes?campagne=1")
                except AppError as exc:
                    problem = exc.code
        else:
            saved = request.args.get("campagne") == "1"
        campaign = self._fin_campaign()
        return visit.render(
            "finance_orders.html",
            status=400 if problem else 200,
            pending=self._fin_orders(person, AWAITING_DECISION),
            payable=[o for s in AWAITING_PAYMENT for o in self._fin_orders(person, s)],
            paid=[o for s in RECENTLY_PAID for o in self._fin_latest(person, s)],
            campaign=campaign,
            committed=campaign["envelope_cents"] - campaign["remaining_cents"],
            rate_text=rate_text(campaign["rate_bp"]),
            envelope_text=format_eur(campaign["envelope_cents"]).removesuffix("\u00a0€"),
            values=values,
            problem=problem,
            saved=saved,
            statuses=ORDER_STATUSES,
            problems={**ORDER_REFUSALS, **FORM_PROBLEMS},
        )

    def _fin_order(self, person, order_id):
        if not re.fullmatch(r"ord_[A-Za-z0-9]{1,60}", order_id):
            raise NotFound("no such order", code="order_not_found")
        return call(self.ordering_rpc.get_order, order_id, person.actor())

    def _fin_order_page(self, visit, order, status=200, **context):
        paid = order.get("paid") or {}
        due = {
            "sponsor": order["quote"]["sponsor_due_cents"] - paid.get("sponsor_cents", 0),
            "state": order["quote"]["state_share_cents"] - paid.get("state_cents", 0),
        }
        context.setdefault("values", {})
        return visit.render(
            "finance_order.html",
            status=status,
            order=order,
            due=due,
            statuses=ORDER_STATUSES,
            payers=PAYERS,
            problems={**ORDER_REFUSALS, **FORM_PROBLEMS},
            **context,
        )

    def _fin_chunks(self, document):
        """Reads a chunk of a document settlement stored (services/settlement/files.py)."""
        proxy = self.settlement_rpc

        def read_chunk(index):
            return call(proxy.document_file_chunk, document["file_id"], index)

        return read_chunk

    @page("GET", "/operateur/commandes/<order_id>/impression.pdf")
    def operator_print_file(self, request, order_id):
        """The order's print file (PDF with every booklet's coupons and codes) for the printer:
        made once by issuance, streamed a chunk (1 MiB) per RPC as it is sent."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        order = self._fin_order(person, order_id)
        actor, proxy = person.actor(), self.issuance_rpc
        record = call(proxy.print_order, order["id"], actor, timeout=PRINT_TIMEOUT)

        def read_chunk(index):
            return call(proxy.print_file_chunk, record["file_id"], index, actor)

        return _file_response(visit, record, "application/pdf", f"{order_id}.pdf", read_chunk)

    @page("POST", "/operateur/commandes/<order_id>/expedition")
    def operator_dispatch(self, request, order_id):
        """The printed booklets sent to the sponsor: it may then hand them to distributors."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        order = self._fin_order(person, order_id)
        call(self.issuance_rpc.dispatch_order, order["id"], person.actor())
        return visit.redirect(f"/operateur/commandes/{order['id']}?fait=expedition")

    @page("GET", "/operateur/commandes/<order_id>")
    def operator_order(self, request, order_id):
        visit = self.web.visit(request)
        person = visit.require("operator")
        order = self._fin_order(person, order_id)
        return self._fin_order_page(visit, order, done=request.args.get("fait"))

    @page("POST", "/operateur/commandes/<order_id>/cofinancement")
    def operator_cofunding_decision(self, request, order_id):
        """Approve or refuse the State's co-funding of an order, with a reason."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        values = _form(request, "decision", "reason")
        problem = None
        if values["decision"] not in ("approve", "refuse"):
            problem = "decision"
        elif len(values["reason"]) < 3:
            problem = "reason"
        else:
            payload = {"decision": values["decision"], "reason": values["reason"]}
            done, problem = _attempt(
                lambda: call(self.ordering_rpc.decide_cofunding, order_id, payload, person.actor())
            )
            if done:
                return visit.redirect(f"/operateur/commandes/{order_id}?fait=decision")
        order = self._fin_order(person, order_id)
        return self._fin_order_page(visit, order, 400, decision_problem=problem, values=values)

    @page("POST", "/operateur/commandes/<order_id>/paiements")
    def operator_record_payment(self, request, order_id):
        """A payment received, by its bank reference: the one that completes the order confirms
        it (issuance prints its booklets). The same reference twice records one payment."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        values = _form(request, "payer", "amount", "reference", limit=80)
        problem, amount = None, None
        try:
            amount = parse_euros(values["amount"])
        except ValueError:
            problem = "amount"
        if problem is None and amount <= 0:
            problem = "amount"
        elif problem is None and values["payer"] not in PAYERS:
            problem = "payer"
        elif problem is None and not REFERENCE.fullmatch(values["reference"]):
            problem = "reference"
        if problem is None:
            payload = {
                "payer": values["payer"],
                "amount_cents": amount,
                "reference": values["reference"],
            }
            done, problem = _attempt(
                lambda: call(self.ordering_rpc.record_payment, order_id, payload, person.actor())
            )
            if done:
                return visit.redirect(f"/operateur/commandes/{order_id}?fait=paiement")
        order = self._fin_order(person, order_id)
        return self._fin_order_page(visit, order, 400, payment_problem=problem, values=values)

    # -- settlement and expiry runs, the ledger ------------------------------------------------
    @page("GET", "/operateur/reglements")
    def operator_runs(self, request):
        """Runs started from here (without waiting), the latest first; the ledger's balance."""
        visit = self.web.visit(request)
        visit.require("operator")
        return self._fin_runs_page(visit)

    def _fin_runs_page(self, visit, status=200, **context):
        today = paris_today()
        context.setdefault("values", {})
        return visit.render(
            "finance_runs.html",
            status=status,
            runs=call(self.settlement_rpc.list_settlement_runs)["runs"][:12],
            expiry_runs=call(self.settlement_rpc.list_expiry_runs)["runs"][:12],
            balance=call(self.settlement_rpc.ledger_balance),
            default_cutoff=end_of_last_month(today).isoformat(),
            default_as_of=today.isoformat(),
            run_statuses=RUN_STATUSES,
            invariants=INVARIANTS,
            anomalies=ANOMALIES,
            problems={**RUN_REFUSALS, **FORM_PROBLEMS},
            **context,
        )

    @page("POST", "/operateur/reglements/paiement")
    def operator_start_settlement(self, request):
        return self._fin_start(request, "period_end", self.settlement_rpc.begin_settlement_run)

    @page("POST", "/operateur/reglements/expiration")
    def operator_start_expiry(self, request):
        return self._fin_start(request, "as_of", self.settlement_rpc.begin_expiry_run)

    def _fin_start(self, request, field, method):
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        values = _form(request, field, limit=20)
        day = parse_day(values[field])
        problem = None if day else "day"
        if problem is None:
            try:
                begun = call(method, {field: day.isoformat()}, person.actor())
            except AppError as exc:
                problem = exc.code
            else:
                kind = "paiements" if begun["kind"] == "settlement" else "expirations"
                demanded = int(time.time())
                return visit.redirect(
                    f"/operateur/reglements/{kind}/{begun['id']}?demande={demanded}"
                )
        return self._fin_runs_page(visit, 400, problem=problem, problem_field=field, values=values)

    def _fin_run(self, method, run_id):
        if not re.fullmatch(r"[A-Z]{2,3}-\d{4}-\d{2}-\d{2}", run_id):
            raise NotFound("no such run", code="settlement_run_not_found")
        try:
            return call(method, run_id)
        except NotFound:
            return None  # asked for, not begun yet: the page waits for it

    def _fin_run_page(self, visit, template, run, run_id):
        running = run is None or run["status"] != "completed"
        demanded = visit.request.args.get("demande", "")
        demanded = int(demanded) if demanded.isdigit() and len(demanded) < 12 else None
        # asked for and still not begun: another run holds the lock, or settlement failed
        stalled = run is None and demanded is not None and time.time() - demanded > STALL_SECONDS
        here = visit.request.path + (f"?demande={demanded}" if demanded is not None else "")
        return visit.render(
            template,
            run=run,
            run_id=run_id,
            running=running,
            stalled=stalled,
            refresh=REFRESH_SECONDS if running and not stalled else None,
            auto=running and not stalled and visit.request.args.get("auto") != "0",
            here=here,
            stop=here + ("&" if "?" in here else "?") + "auto=0",
            run_statuses=RUN_STATUSES,
            phases=PHASES,
        )

    @page("GET", "/operateur/reglements/paiements/<run_id>")
    def operator_settlement_run(self, request, run_id):
        visit = self.web.visit(request)
        visit.require("operator")
        run = self._fin_run(self.settlement_rpc.get_settlement_run, run_id)
        return self._fin_run_page(visit, "finance_run.html", run, run_id)

    @page("GET", "/operateur/reglements/expirations/<run_id>")
    def operator_expiry_run(self, request, run_id):
        visit = self.web.visit(request)
        visit.require("operator")
        run = self._fin_run(self.settlement_rpc.get_expiry_run, run_id)
        return self._fin_run_page(visit, "finance_expiry.html", run, run_id)

    def _fin_document(self, request, run_id, method, *args, mimetype="application/pdf"):
        """A run's document, made and kept by settlement, as a download (operator staff)."""
        visit = self.web.visit(request)
        visit.require("operator")
        document = call(method, run_id, *args, timeout=60)
        fallback = f"{run_id}.{'xml' if mimetype.endswith('xml') else 'pdf'}"
        return _file_response(visit, document, mimetype, fallback, self._fin_chunks(document))

    @page("GET", "/operateur/reglements/paiements/<run_id>/synthese.pdf")
    def operator_run_summary(self, request, run_id):
        return self._fin_document(request, run_id, self.settlement_rpc.run_summary_pdf)

    @page("GET", "/operateur/reglements/paiements/<run_id>/virements.xml")
    def operator_run_sepa(self, request, run_id):
        return self._fin_document(
            request, run_id, self.settlement_rpc.sepa_file, mimetype="application/xml"
        )

    @page("GET", "/operateur/reglements/paiements/<run_id>/releves/<venue_id>.pdf")
    def operator_run_statement(self, request, run_id, venue_id):
        return self._fin_document(request, run_id, self.settlement_rpc.statement_pdf, venue_id)

    @page("GET", "/operateur/reglements/paiements/<run_id>/fonds/<department>.pdf")
    def operator_run_fund_statement(self, request, run_id, department):
        return self._fin_document(
            request, run_id, self.settlement_rpc.fund_statement_pdf, department
        )

    @page("GET", "/operateur/reglements/expirations/<run_id>/avoirs/<funder_id>.pdf")
    def operator_credit_note(self, request, run_id, funder_id):
        return self._fin_document(request, run_id, self.settlement_rpc.credit_note_pdf, funder_id)
