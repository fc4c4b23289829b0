"""The fixed lists of venue types and service categories (docs/catalog.md explains each).

Drawn from the sources of the scheme: the places of digital mediation that accept the coupons, and
the workshops they run with them. Codes are stable (they appear in sponsors' rules and in events).
"""

VENUE_TYPES = {
    "public_digital_space": "Espace public numérique (EPN)",
    "library": "Médiathèque, bibliothèque",
    "fablab": "Fablab, infolab",
    "third_place": "Tiers-lieu, espace de coworking",
    "france_services": "France services, maison de services au public",
    "social_centre": "Centre social, maison de quartier",
    "association": "Association de médiation numérique",
    "mobile_unit": "Plateforme itinérante",
    "repair_cafe": "Repair café",
    "training_centre": "Organisme de formation",
}

SERVICE_CATEGORIES = {
    "online_admin_procedures": "Réaliser ses démarches administratives en ligne",
    "discovering_internet": "Découvrir internet et l'ordinateur",
    "email_digital_identity": "Gérer sa messagerie et son identité numérique",
    "digital_parenting": "Être parent à l'heure du numérique",
    "smartphone_use": "Utiliser son smartphone ou sa tablette",
    "job_search_online": "Chercher un emploi en ligne",
    "online_safety": "Se protéger en ligne",
    "office_software": "Traitement de texte, tableur",
    "online_health": "Santé en ligne (espace santé, téléconsultation)",
    "online_banking_shopping": "Banque et achats en ligne",
}
