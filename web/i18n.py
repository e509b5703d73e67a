"""French and English for every page: the browser's language first, a cookie once chosen.

Messages are plain format strings keyed by a short English name; a key missing from a
language falls back to English, so a page never shows a key.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "fr")
COOKIE = "potager_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app": "Potager",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "name": "Name",
        "password": "Password",
        "wrong_login": "Wrong name or password.",
        "trials": "Trials",
        "no_trials": "No trial yet.",
        "site": "Site",
        "design": "Design",
        "plots": "Plots",
        "open": "Open",
        "field_map": "Field map",
        "variable": "Variable",
        "show": "Show",
        "no_observations": "No observations yet for this trial.",
        "analysis": "Analysis",
        "in_one_line": "In one line",
        "in_full": "In full",
        "means": "Means",
        "treatment": "Treatment",
        "mean": "Mean",
        "se": "SE",
        "letters": "Group",
        "of_control": "% of control",
        "observations": "Observations",
        "plot": "Plot",
        "block": "Block",
        "value": "Value",
        "recorded_by": "Recorded by",
        "when": "When",
        "downloads": "Downloads",
        "field_book": "Field book (CSV)",
        "observations_csv": "Observations (CSV)",
        "brapi": "BrAPI (JSON)",
        "figure_svg": "Means figure (SVG)",
        "figure_png": "Means figure (PNG)",
        "share": "Share",
        "share_label": "For whom",
        "share_expires": "Expires in days (empty: never)",
        "share_create": "Create a read-only link",
        "share_link": "Link",
        "revoke": "Revoke",
        "revoked": "revoked",
        "expires": "expires",
        "shared_view": "Read-only view shared with you",
        "likely_real": "The difference between {factor} levels is unlikely to be chance "
        "(p = {p}): levels that share no letter differ.",
        "maybe_chance": "The differences between {factor} levels could be chance "
        "(p = {p}): this trial does not show that they differ.",
        "cv_note": "The field's noise (CV) is {cv} %: under about 10-15 % is usual.",
        "one_line": "F = {f}, p = {p}, CV = {cv} %, residual SD = {sd}, LSD (5 %) = {lsd}",
        "not_analysable": "Not enough observations of {variable} to analyse yet.",
        "language": "Français",
        "forbidden": "You may not do this.",
        "robots": "Robots",
        "no_robots": "No robot is connected to this server.",
        "idle": "idle",
        "stopped": "EMERGENCY STOP",
        "ready": "ready",
        "pins_on": "Outputs on",
        "estop": "EMERGENCY STOP",
        "home": "Find home",
        "unlock": "Unlock",
        "move": "Move",
        "editor": "Sequence editor",
        "robot_model": "Robot",
        "check": "Check",
        "dry_run": "Dry run on the simulator",
        "sequence_ok": "No problem found: the sequence is ready.",
        "problems": "Problems to fix",
        "predicted": "Predicted time {duration} s, path {length} mm, {commands} firmware commands.",
    },
    "fr": {
        "sign_in": "Se connecter",
        "sign_out": "Se déconnecter",
        "name": "Nom",
        "password": "Mot de passe",
        "wrong_login": "Nom ou mot de passe incorrect.",
        "trials": "Essais",
        "no_trials": "Aucun essai pour l'instant.",
        "site": "Site",
        "design": "Dispositif",
        "plots": "Micro-parcelles",
        "open": "Ouvrir",
        "field_map": "Plan de l'essai",
        "variable": "Variable",
        "show": "Afficher",
        "no_observations": "Pas encore d'observations pour cet essai.",
        "analysis": "Analyse",
        "in_one_line": "En une ligne",
        "in_full": "En détail",
        "means": "Moyennes",
        "treatment": "Modalité",
        "mean": "Moyenne",
        "se": "Erreur type",
        "letters": "Groupe",
        "of_control": "% du témoin",
        "observations": "Observations",
        "plot": "Parcelle",
        "block": "Bloc",
        "value": "Valeur",
        "recorded_by": "Noté par",
        "when": "Quand",
        "downloads": "Téléchargements",
        "field_book": "Plan de l'essai (CSV)",
        "observations_csv": "Observations (CSV)",
        "brapi": "BrAPI (JSON)",
        "figure_svg": "Figure des moyennes (SVG)",
        "figure_png": "Figure des moyennes (PNG)",
        "share": "Partager",
        "share_label": "Pour qui",
        "share_expires": "Expire dans (jours, vide : jamais)",
        "share_create": "Créer un lien en lecture seule",
        "share_link": "Lien",
        "revoke": "Révoquer",
        "revoked": "révoqué",
        "expires": "expire",
        "shared_view": "Vue en lecture seule partagée avec vous",
        "likely_real": "La différence entre les modalités de {factor} a peu de chances "
        "d'être due au hasard (p = {p}) : deux modalités sans lettre commune diffèrent.",
        "maybe_chance": "Les différences entre les modalités de {factor} peuvent être dues au "
        "hasard (p = {p}) : cet essai ne montre pas qu'elles diffèrent.",
        "cv_note": "Le bruit du champ (CV) est de {cv} % : en dessous de 10-15 % environ, "
        "c'est habituel.",
        "one_line": "F = {f}, p = {p}, CV = {cv} %, ET résiduel = {sd}, PPDS (5 %) = {lsd}",
        "not_analysable": "Pas encore assez d'observations de {variable} pour l'analyse.",
        "language": "English",
        "forbidden": "Vous n'avez pas le droit de faire cela.",
        "robots": "Robots",
        "no_robots": "Aucun robot n'est relié à ce serveur.",
        "idle": "au repos",
        "stopped": "ARRÊT D'URGENCE",
        "ready": "prêt",
        "pins_on": "Sorties actives",
        "estop": "ARRÊT D'URGENCE",
        "home": "Retour à l'origine",
        "unlock": "Déverrouiller",
        "move": "Déplacer",
        "editor": "Éditeur de séquences",
        "robot_model": "Robot",
        "check": "Vérifier",
        "dry_run": "Essai à blanc sur le simulateur",
        "sequence_ok": "Aucun problème : la séquence est prête.",
        "problems": "Problèmes à corriger",
        "predicted": "Durée prévue {duration} s, trajet {length} mm, {commands} commandes.",
    },
}


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if it is one we have, else the browser's first we have."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def translate(language: str, key: str, **values: Any) -> str:
    text = MESSAGES.get(language, {}).get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


def other_language(language: str) -> str:
    return "fr" if language == "en" else "en"
