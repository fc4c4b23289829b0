"""The distributor's desk: the booklets assigned to the distributor, and handing one to a
beneficiary (activation, with the anonymous profile), from the booklet's serial typed or scanned.

What a printed booklet carries to scan is its coupons' QR codes (``<coupon serial>:<code>``; the
cover has none): a coupon's serial, scanned or typed, stands for the assigned booklet whose coupons
it is among. The security code is never sent nor kept."""

import re

from services.web import labels
from services.web.http import page
from services.web.labels import _
from services.web.rpc import call
from shared import serials
from shared.errors import AppError

MAX_BOOKLETS = 5000  # on the desk: issuance's largest page
POSTCODE = re.compile(r"[0-9]{5}")
PROFILE_FIELDS = ("age_band", "public_category", "postcode")
SCAN_REFUSALS = {
    "coupon_not_assigned": _(
        "Ce chèque n'appartient à aucun carnet confié à votre structure : vérifiez le numéro, "
        "ou tapez celui du carnet."
    ),
}


class DistributorPages:
    def _assigned(self, person):
        """The booklets assigned to this distributor, in serial order (issuance's listing by
        distributor, read as the distributor itself)."""
        query = {"limit": MAX_BOOKLETS}
        return call(
            self.issuance_rpc.distributor_booklets, person.subject_id, query, person.actor()
        )["booklets"]

    @page("GET,POST", "/distribution")
    def distribution(self, request):
        visit = self.web.visit(request)
        person = visit.require("distributor")
        distributor = call(self.ordering_rpc.get_distributor, person.subject_id, person.actor())
        values, refusal, status, booklets = {}, None, 200, None
        if request.method == "POST":
            visit.check_csrf()
            form = request.form
            values = {k: (form.get(k) or "").strip()[:40] for k in ("serial", *PROFILE_FIELDS)}
            values["serial"] = values["serial"].replace(" ", "")
            booklets = self._assigned(person)
            serial, refusal = booklet_of(values["serial"], booklets)
            if refusal is None:
                values["serial"] = serial
                payload, refusal = activation_payload(values)
            if refusal is None:
                try:
                    call(
                        self.issuance_rpc.activate_booklet,
                        values["serial"],
                        payload,
                        person.actor(),
                    )
                    return visit.redirect(f"/distribution?remis={values['serial']}")
                except AppError as exc:
                    refusal = exc.code
            status = 422
        return visit.render(
            "distribution.html",
            status=status,
            distributor=distributor,
            booklets=booklets if booklets is not None else self._assigned(person),
            values=values,
            refusal=refusal and (SCAN_REFUSALS.get(refusal) or labels.activation_refusal(refusal)),
            handed=request.args.get("remis"),
            age_bands=labels.AGE_BANDS,
            publics=labels.PUBLIC_CATEGORIES,
            booklet_statuses=labels.BOOKLET_STATUSES,
        )


def activation_payload(values):
    """Issuance's ``ActivationInput`` from the form, or the code of what is wrong."""
    if not values.get("serial"):
        return None, "no_serial"
    profile = {}
    if values.get("age_band"):
        if values["age_band"] not in labels.AGE_BANDS:
            return None, "validation_error"
        profile["age_band"] = values["age_band"]
    if values.get("public_category"):
        if values["public_category"] not in labels.PUBLIC_CATEGORIES:
            return None, "validation_error"
        profile["public_category"] = values["public_category"]
    if values.get("postcode"):
        if not POSTCODE.fullmatch(values["postcode"]):
            return None, "invalid_postcode"
        profile["postcode"] = values["postcode"]
    return {"profile": profile or None}, None


def booklet_of(text, booklets):
    """``(booklet serial, None)`` for what was typed or scanned: a booklet's serial as it is, a
    coupon's serial (or its QR code's ``serial:code``, the code dropped) as the assigned booklet
    it is in; ``(text, "coupon_not_assigned")`` for a coupon of no assigned booklet. Anything
    else goes to issuance as typed (it names what is wrong)."""
    text = serials.normalize(text.split(":", 1)[0])
    try:
        sequence = serials.parse_coupon_serial(text)
    except serials.InvalidSerial:
        return text, None
    for booklet in booklets:
        try:
            first = serials.parse_coupon_serial(booklet.get("first_coupon_serial") or "")
            last = serials.parse_coupon_serial(booklet.get("last_coupon_serial") or "")
        except serials.InvalidSerial:
            continue
        if first <= sequence <= last:
            return booklet["serial"], None
    return text, "coupon_not_assigned"
