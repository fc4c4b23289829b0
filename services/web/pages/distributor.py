"""The distributor's desk: the booklets assigned to the distributor, and handing one to a
beneficiary (activation, with the anonymous profile), from the booklet's serial."""

import re

from services.web import labels
from services.web.http import page
from services.web.rpc import call
from shared.errors import AppError

MAX_BOOKLETS = 5000  # on the desk: issuance's largest page
POSTCODE = re.compile(r"[0-9]{5}")
PROFILE_FIELDS = ("age_band", "public_category", "postcode")


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
        values, refusal, status = {}, None, 200
        if request.method == "POST":
            visit.check_csrf()
            form = request.form
            values = {k: (form.get(k) or "").strip()[:40] for k in ("serial", *PROFILE_FIELDS)}
            values["serial"] = values["serial"].replace(" ", "")
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
            booklets=self._assigned(person),
            values=values,
            refusal=refusal and labels.activation_refusal(refusal),
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
