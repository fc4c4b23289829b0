"""Names people read for the platform's codes: service categories, venue types, roles, and the
redemption service's refusals (its stable error codes) in plain French. Marked for translation
here (``_`` returns the text; the pages translate it when they show it)."""


def _(text):
    return text


CATEGORIES = {  # the catalog's service categories (docs/catalog.md)
    "online_admin_procedures": _("Démarches administratives en ligne"),
    "discovering_internet": _("Découvrir internet et l'ordinateur"),
    "email_digital_identity": _("Messagerie et identité numérique"),
    "digital_parenting": _("Être parent à l'heure du numérique"),
    "smartphone_use": _("Utiliser son smartphone ou sa tablette"),
    "job_search_online": _("Chercher un emploi en ligne"),
    "online_safety": _("Se protéger en ligne"),
    "office_software": _("Traitement de texte, tableur"),
    "online_health": _("Santé en ligne"),
    "online_banking_shopping": _("Banque et achats en ligne"),
}

VENUE_TYPES = {
    "public_digital_space": _("Espace public numérique"),
    "library": _("Médiathèque, bibliothèque"),
    "fablab": _("Fablab"),
    "third_place": _("Tiers-lieu"),
    "france_services": _("France services"),
    "social_centre": _("Centre social, maison de quartier"),
    "association": _("Association de médiation numérique"),
    "mobile_unit": _("Point itinérant"),
    "repair_cafe": _("Repair café"),
    "training_centre": _("Organisme de formation"),
}

ROLES = {
    "operator": _("Équipe APTIC (opérateur)"),
    "venue": _("Lieu (guichet)"),
    "sponsor": _("Commanditaire"),
    "distributor": _("Structure distributrice"),
}

STATUSES = {  # a redemption's status
    "accepted": _("Encaissé"),
    "voided": _("Annulé"),
    "settled": _("Payé"),
}

# the redemption service's refusals (shared/contracts/errors_redemption.py), for the person at
# the desk: what happened, in words, next to the coupon concerned
REFUSALS = {
    "invalid_serial": _("Ce numéro de chèque n'existe pas : vérifiez les chiffres."),
    "invalid_code_format": _("Le code de sécurité a 8 caractères : vérifiez-le."),
    "coupon_not_found": _("Aucun chèque ne porte ce numéro."),
    "invalid_security_code": _("Le code de sécurité ne correspond pas à ce chèque."),
    "booklet_cancelled": _(
        "Ce chèque vient d'un carnet déclaré perdu ou volé : il ne peut pas être encaissé."
    ),
    "coupon_expired": _("Ce chèque n'est plus valable : sa date de validité est passée."),
    "coupon_not_yet_valid": _("Ce chèque n'est pas encore valable."),
    "coupon_already_redeemed": _("Ce chèque a déjà été encaissé."),
    "venue_not_accredited": _("Votre lieu n'est pas habilité à encaisser des chèques."),
    "service_not_offered": _("Ce service ne fait pas partie de l'offre de votre lieu."),
    "rule_broken": _("Le commanditaire de ce chèque ne permet pas de l'utiliser ici."),
    "rule_territory": _("Ce chèque ne peut pas être utilisé dans votre commune."),
    "rule_venue_type": _("Ce chèque ne peut pas être utilisé dans ce type de lieu."),
    "rule_category": _("Ce chèque ne peut pas payer ce type d'atelier."),
    "too_many_attempts": _("Trop d'erreurs de saisie : le guichet est bloqué un moment."),
    "coupon_locked": _("Trop d'erreurs pour ce chèque : il est bloqué un moment."),
    "validation_error": _("Vérifiez le numéro et le code de sécurité."),
    "idempotency_key_reused": _("Ce formulaire a déjà servi : recommencez l'encaissement."),
    "request_in_progress": _("L'encaissement est en cours : patientez un instant."),
}
UNKNOWN_REFUSAL = _("Ce chèque ne peut pas être encaissé.")


def refusal(code):
    """The sentence for a redemption refusal code (``rule_<rule>`` codes included)."""
    if code in REFUSALS:
        return REFUSALS[code]
    if code and code.startswith("rule_"):
        return REFUSALS["rule_broken"]
    return UNKNOWN_REFUSAL


# the anonymous profile recorded when a booklet is handed out (issuance's ProfileInput)
AGE_BANDS = {
    "under_18": _("Moins de 18 ans"),
    "18_25": _("18 à 25 ans"),
    "26_35": _("26 à 35 ans"),
    "36_45": _("36 à 45 ans"),
    "46_55": _("46 à 55 ans"),
    "56_65": _("56 à 65 ans"),
    "66_75": _("66 à 75 ans"),
    "over_75": _("Plus de 75 ans"),
}

PUBLIC_CATEGORIES = {
    "job_seeker": _("Demandeur ou demandeuse d'emploi"),
    "minimum_income": _("Bénéficiaire de minima sociaux (RSA, ASS, AAH…)"),
    "senior": _("Personne âgée"),
    "young_person": _("Jeune (mission locale…)"),
    "disability": _("Personne en situation de handicap"),
    "newcomer": _("Personne récemment arrivée en France"),
    "employee": _("Salarié ou salariée (reconversion, formation)"),
    "other": _("Autre"),
}

BOOKLET_STATUSES = {
    "issued": _("Émis"),
    "dispatched": _("Envoyé au commanditaire"),
    "assigned": _("À remettre"),
    "activated": _("Remis à un bénéficiaire"),
    "cancelled": _("Bloqué, perdu ou volé"),
}

# the issuance service's refusals of an activation (shared/contracts/errors_issuance.py)
ACTIVATION_REFUSALS = {
    "no_serial": _("Tapez le numéro du carnet."),
    "invalid_serial": _("Ce numéro de carnet n'existe pas : vérifiez les chiffres."),
    "booklet_not_found": _("Aucun carnet ne porte ce numéro."),
    "not_yours": _(
        "Ce carnet n'a pas été confié à votre structure : vous ne pouvez pas le remettre."
    ),
    "invalid_booklet_transition": _(
        "Ce carnet ne peut pas être remis : il l'a déjà été, ou il a été bloqué ou déclaré perdu."
    ),
    "booklet_expired": _("Ce carnet n'est plus valable : sa date de validité est passée."),
    "invalid_postcode": _("Le code postal a 5 chiffres."),
    "validation_error": _("Vérifiez le numéro du carnet et le profil choisi."),
}
UNKNOWN_ACTIVATION_REFUSAL = _("Ce carnet ne peut pas être remis.")


def activation_refusal(code):
    """The sentence for an activation refusal code."""
    return ACTIVATION_REFUSALS.get(code, UNKNOWN_ACTIVATION_REFUSAL)


# -- the sponsor's space (issue 13) -------------------------------------------------------------
ORDER_STATUSES = {  # an order's status (ordering's OrderStatus), as the sponsor reads it
    "draft": _("Pas encore envoyée"),
    "submitted": _("Envoyée : en attente de votre paiement"),
    "cofunding_pending": _("En attente de la décision de cofinancement de l'État"),
    "cofunding_approved": _("Cofinancement accordé : en attente des paiements"),
    "cofunding_refused": _("Cofinancement refusé : en attente de votre paiement"),
    "confirmed": _("Payée : carnets en impression"),
    "issued": _("Carnets imprimés"),
    "dispatched": _("Carnets envoyés"),
    "cancelled": _("Annulée"),
}
CANCELLABLE_ORDERS = {  # ordering's CANCELLABLE: no cancellation once paid
    "draft",
    "submitted",
    "cofunding_pending",
    "cofunding_approved",
    "cofunding_refused",
}

COFUNDING_REASONS = {  # why co-funding was refused (ordering's reason codes)
    "cofunding_envelope_exhausted": _(
        "L'enveloppe de l'État pour cette année ne suffit plus à couvrir cette commande."
    ),
    "cofunding_refused_by_operator": _("L'équipe APTIC a refusé le cofinancement."),
}

COFUNDING_RULES = {  # why a sponsor cannot have co-funding (ordering's eligibility rules)
    "local_authority": _(
        "Le cofinancement de l'État est réservé aux collectivités et à leurs groupements."
    ),
    "town_group": _(
        "Une commune n'est cofinancée que si elle commande pour un groupe d'au moins 2 communes."
    ),
    "minimum_order": _(
        "Une commande cofinancée compte au moins 10 000 € de chèques (valeur faciale)."
    ),
    "not_eligible": _("Votre structure ne peut pas demander le cofinancement de l'État."),
}

ORDER_FORM_ERRORS = {  # the order form's fields, what is wrong
    "quantity_missing": _("Indiquez le nombre de carnets."),
    "quantity": _("Indiquez un nombre entier de carnets, de 1 à 100 000."),
    "per_booklet": _("Un carnet compte 5 ou 10 chèques."),
    "face_value": _("Indiquez la valeur d'un chèque en euros, de 0,01 € à 100 €."),
    "too_many": _("Une commande compte au plus 1 000 000 de chèques."),
    "invalid": _("Vérifiez les lignes de la commande."),
    "percent": _("Indiquez un pourcentage entier, de 0 à 100."),
    "percent_total": _("Les deux parts de publics font 100 ensemble."),
    "area": _("Décrivez le territoire couvert (2 à 500 caractères)."),
    "partners": _("Un partenaire par ligne, de 2 à 200 caractères chacun."),
    "budget": _("Indiquez le budget du projet en euros."),
    "territories": _(
        "Des codes de département (33) ou de commune INSEE (33063), séparés par des virgules."
    ),
    "application": _("Vérifiez la demande de cofinancement."),
    "not_eligible": _("Votre structure ne peut pas demander le cofinancement de l'État."),
    "distributor_name": _("Donnez le nom de la structure (2 à 200 caractères)."),
    "town_code": _("Le code INSEE de la commune a 5 caractères (33063 pour Bordeaux)."),
}

ORDER_DONE = {  # what the sponsor just did on an order
    "ordered": _("Votre commande est envoyée : suivez-la ci-dessous."),
    "submitted": _("Votre commande est envoyée."),
    "cancelled": _("Votre commande est annulée."),
}

ORDER_REFUSALS = {  # ordering's refusals of an action on an order
    "invalid_order_transition": _("Cette commande ne peut plus être envoyée ou annulée."),
    "cofunding_not_eligible": COFUNDING_RULES["not_eligible"],
}
UNKNOWN_ORDER_REFUSAL = _("Cette action n'est pas possible sur cette commande.")


def order_refusal(code):
    return ORDER_REFUSALS.get(code, UNKNOWN_ORDER_REFUSAL)


HISTORY_ACTORS = {  # who changed an order, as its sponsor reads it (never APTIC staff's names)
    "sponsor": _("Vous"),
    "operator": _("Équipe APTIC"),
    "system": _("La plateforme"),
}

BOOKLET_DONE = {  # what the sponsor did to a booklet
    "assign": _("Confié à la structure."),
    "block": _("Bloqué : ses chèques ne peuvent plus être encaissés."),
    "lost": _("Déclaré perdu : ses chèques ne peuvent plus être encaissés."),
    "stolen": _("Déclaré volé : ses chèques ne peuvent plus être encaissés."),
}

# issuance's refusals of the sponsor's actions on a booklet (shared/contracts/errors_issuance.py)
BOOKLET_REFUSALS = {
    "no_action": _("Choisissez ce qu'il faut faire des carnets."),
    "no_booklet": _("Cochez au moins un carnet."),
    "no_distributor": _("Choisissez la structure distributrice."),
    "not_yours": _("Ce carnet n'est pas à votre structure."),
    "booklet_not_found": _("Aucun de vos carnets ne porte ce numéro."),
    "invalid_serial": _("Ce numéro de carnet n'existe pas."),
    "distributor_not_found": _(
        "Cette structure distributrice n'est pas encore connue : réessayez."
    ),
    "distributor_of_another_sponsor": _("Cette structure distributrice n'est pas la vôtre."),
    "booklet_expired": _("Ce carnet n'est plus valable."),
}
BOOKLET_TRANSITIONS = {  # invalid_booklet_transition, by action
    "assign": _(
        "Ce carnet ne peut pas être confié : il n'est pas encore arrivé chez vous, ou il a déjà "
        "été remis à un bénéficiaire ou bloqué."
    ),
    "block": _(
        "Ce carnet ne peut pas être bloqué : il a déjà été remis à un bénéficiaire, ou il est "
        "déjà bloqué."
    ),
    "lost": _("Ce carnet est déjà bloqué ou déclaré perdu ou volé."),
    "stolen": _("Ce carnet est déjà bloqué ou déclaré perdu ou volé."),
}
UNKNOWN_BOOKLET_REFUSAL = _("Ce carnet ne peut pas être traité.")


def booklet_done(action):
    return BOOKLET_DONE.get(action, "")


def booklet_refusal(code, action=None):
    """The sentence for issuance's refusal ``code`` of ``action`` on a booklet."""
    if code == "invalid_booklet_transition" and action in BOOKLET_TRANSITIONS:
        return BOOKLET_TRANSITIONS[action]
    return BOOKLET_REFUSALS.get(code, UNKNOWN_BOOKLET_REFUSAL)
