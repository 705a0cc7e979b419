"""The words of the monthly report, per language, with its glossary: each figure's definition.

Numbers, dates and channel names are written by the simulation report's ``Language``; this
module adds the monthly report's own words on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiguillage.adapters.reports.words import LANGUAGES, Language

__all__ = ["GLOSSARY", "LANGUAGES", "MonthLanguage"]

GLOSSARY = (
    "counted",
    "received",
    "answered",
    "service_level",
    "short_abandons",
    "abandonment",
    "asa",
    "waits",
    "breaches",
    "transferred",
    "refused",
    "handling",
    "occupancy",
    "pending",
    "availability",
    "slots",
    "callbacks",
    "callbacks_within",
    "callbacks_reached",
    "callbacks_open",
    "callbacks_made",
    "callbacks_overdue",
    "callback_service_level",
)
"""The glossary's entries, in the order the report gives them."""

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport mensuel",
        "title_year": "Bilan annuel",
        "period": "Du {start} au {end} ({zone}).",
        "so_far": "Le journal s'arrête avant la fin du mois : chiffres arrêtés au {moment}.",
        "journal": "Calculé depuis le journal, événements {first} à {last} ; "
        "empreinte du dernier : {hash}.",
        "by_channel": "Par canal, à côté du mois précédent",
        "by_source": "Par canal et source",
        "by_motive": "Par canal et motif",
        "by_typology": "Écrits par typologie",
        "by_month": "Mois par mois",
        "callbacks": "Rappels",
        "callbacks_none": "Aucun rappel demandé.",
        "callback_columns": "Canal|Mois|Demandés|dont dans le délai|Joints|Non joints|"
        "En cours|Faits|dont à temps|En retard|Niveau de service des rappels",
        "pending": "En cours à la fin du mois",
        "pending_none": "Aucune interaction en cours à la fin du mois.",
        "pending_columns": "Interaction|Canal|Reçue le|Échéance|Échéance dépassée",
        "availability": "Disponibilité",
        "availability_line": "Service : {share} des {open} d'ouverture ({down} d'indisponibilité).",
        "availability_columns": "Canal|Indisponible (heures d'ouverture)|Disponibilité",
        "outage_columns": "Panne|Canal|Début|Fin|Durée dans le mois|dont heures d'ouverture|Cause",
        "outages_none": "Aucune panne dans le mois.",
        "outage.crashed": "arrêt brutal",
        "outage.stopped": "arrêt",
        "outage.journal_lost": "journal perdu",
        "outage.channel": "canal",
        "columns": "Canal|Mois|Reçues|Répondues|dont dans le délai|Abandonnées|Transférées|"
        "Refusées (hors horaires)|Niveau de service|Objectif|Attente moyenne|"
        "Attente médiane|Attente, 90e centile|Attente, 99e centile|Dépassements|"
        "Attente avant abandon|Durée de traitement",
        "group_columns": "Canal|{by}|Reçues|Répondues|dont dans le délai|Rappels demandés|"
        "Abandonnées|Refusées|Niveau de service|Objectif|Attente moyenne|Attente, 90e centile|"
        "Dépassements",
        "source": "Source",
        "motive": "Motif",
        "typology": "Typologie",
        "none": "(aucun)",
        "short": "dont {n} courts",
        "yes": "oui",
        "no": "non",
        "occupancy_line": "Occupation des conseillers, tous canaux : {occupancy} "
        "({busy} occupées sur {staffed} en service).",
        "charts": "Graphiques",
        "axis_received": "reçues",
        "day_title": "Interactions reçues par jour",
        "day_note": "Par jour de réception, heure locale.",
        "sl_title": "Niveau de service par jour",
        "sl_note": "Par jour de réception ; objectifs en pointillés.",
        "half_title": "Interactions reçues par demi-heure de la journée",
        "half_note": "Somme du mois, par demi-heure de réception.",
        "glossary": "Définitions",
        "g.counted": "Mois d'une interaction : celui de son échéance (heure de {zone}), si "
        "elle est réglée avant la fin de ce mois ; sinon elle figure « en cours » à la fin de "
        "ce mois et compte une seule fois, dans le mois où elle est réglée. Réglée : répondue, "
        "abandonnée, rappel demandé, close sans réponse ou remise à un tiers. L'échéance est "
        "celle en vigueur (une attente du donneur d'ordre créditée la repousse).",
        "g.received": "Reçues : interactions comptées dans le mois ; les appels refusés hors "
        "horaires n'y sont pas.",
        "g.answered": "Répondues : ayant reçu une première réponse (appel décroché, première "
        "réponse écrite, remise à un tiers) ; dans le délai : au plus tard à l'échéance.",
        "g.service_level": "Niveau de service : (répondues dans le délai + rappels demandés "
        "dans le délai) / (répondues + rappels demandés + abandonnées \u2212 abandons courts). "
        "Un abandon non court compte comme manqué ; une "
        "interaction close sans réponse n'a pas d'issue et n'est pas comptée.",
        "g.short_abandons": "Abandons courts : abandonnées après une attente plus courte que "
        "le seuil du canal (short_abandon_s) ; jamais après l'échéance. Comptés à part, écartés "
        "du niveau de service et du taux d'abandon.",
        "g.abandonment": "Taux d'abandon : (abandonnées \u2212 courts) / (reçues \u2212 courts).",
        "g.asa": "Attente moyenne (ASA) : moyenne, sur les répondues, du délai de la réception "
        "à la première réponse ; pour les écrits et les réseaux sociaux, c'est le délai de "
        "première réponse.",
        "g.waits": "Centiles : la valeur de rang plancher(p \u00d7 n) des attentes triées (la "
        "dernière au-delà), p = 0,5, 0,9 et 0,99.",
        "g.breaches": "Dépassements : interactions dont l'échéance est passée sans réponse.",
        "g.transferred": "Transférées : renvoyées en file par un conseiller au moins une fois ; "
        "remises à un tiers à part.",
        "g.refused": "Refusées : appels reçus hors des horaires d'ouverture (20 h 00 est "
        "fermé), comptés le mois du refus.",
        "g.handling": "Durée de traitement : temps pendant lequel des conseillers ont eu "
        "l'interaction en main (de l'acceptation à la clôture, au transfert ou à la mise en "
        "attente), moyenne des interactions traitées et terminées.",
        "g.occupancy": "Occupation : temps occupé (travail proposé ou en main, post-appel) / "
        "temps en service (disponible ou occupé ; une pause sans travail en main n'y est pas), "
        "dans le mois.",
        "g.pending": "En cours : interactions ouvertes à la fin du mois dont l'échéance est "
        "passée ou tombe dans le mois.",
        "g.availability": "Disponibilité : part des heures d'ouverture du calendrier (hors "
        "ouverture, rien n'est compté) où le service, ou le canal, fonctionnait. Le service est "
        "indisponible d'un arrêt (ou du dernier signe de vie avant un arrêt brutal) au "
        "redémarrage, et de la perte du journal à son retour ; un canal, de sa panne à son "
        "retour, et pendant les pannes du service.",
        "g.slots": "Par jour et par demi-heure : au jour et à la demi-heure de réception ; les "
        "refus, au moment du refus.",
        "g.callbacks": "Rappels demandés : appels dont l'appelant a demandé à être rappelé. "
        "L'appel est réglé à la demande et compte dans le niveau de service avec l'attente qu'il "
        "avait, ni répondu ni clos sans réponse, dans le mois de son échéance ; le rappel est "
        "compté à part, dans le même mois, tel qu'il est à la fin de ce mois.",
        "g.callbacks_within": "Rappels demandés dans le délai : demandés au plus tard à "
        "l'objectif de l'appel ; un appel en dépassement puis rappelé compte une fois, hors "
        "délai.",
        "g.callbacks_reached": "Joints : un essai a abouti (le client a décroché) ; non joints : "
        "clos « callback_unanswered » après le dernier essai.",
        "g.callbacks_open": "Rappels en cours : ni joints ni clos à la fin du mois.",
        "g.callbacks_made": "Rappels faits : premier essai commencé (le conseiller le prend, le "
        "client est appelé), que le client réponde ou non ; à temps : au plus tard à l'échéance "
        "du rappel.",
        "g.callbacks_overdue": "Rappels en retard : jamais essayés à la fin du mois, leur "
        "échéance passée.",
        "g.callback_service_level": "Niveau de service des rappels : faits à temps / (faits + "
        "en retard). Un rappel pas encore essayé et dans les temps n'a pas d'issue.",
    },
    "en": {
        "title": "Monthly report",
        "title_year": "Annual review",
        "period": "From {start} to {end} ({zone}).",
        "so_far": "The journal ends before the month does: figures as of {moment}.",
        "journal": "Computed from the journal, events {first} to {last}; hash of the last: {hash}.",
        "by_channel": "By channel, beside the previous month",
        "by_source": "By channel and source",
        "by_motive": "By channel and motive",
        "by_typology": "Written work by typology",
        "by_month": "Month by month",
        "callbacks": "Callbacks",
        "callbacks_none": "No callback asked for.",
        "callback_columns": "Channel|Month|Asked for|of which in time|Reached|Unreached|Open|"
        "Made|of which in time|Overdue|Callback service level",
        "pending": "Pending at the month's end",
        "pending_none": "No interaction pending at the month's end.",
        "pending_columns": "Interaction|Channel|Received|Deadline|Deadline passed",
        "availability": "Availability",
        "availability_line": "Service: {share} of {open} of opening time ({down} unavailable).",
        "availability_columns": "Channel|Down (opening hours)|Availability",
        "outage_columns": "Outage|Channel|Start|End|Length in the month|of which opening hours|"
        "Cause",
        "outages_none": "No outage in the month.",
        "outage.crashed": "crash",
        "outage.stopped": "stop",
        "outage.journal_lost": "journal lost",
        "outage.channel": "channel",
        "columns": "Channel|Month|Received|Answered|of which in time|Abandoned|Transferred|"
        "Refused (closed)|Service level|Target|Mean wait|Median wait|90th percentile wait|"
        "99th percentile wait|Breaches|Wait before abandoning|Handling time",
        "group_columns": "Channel|{by}|Received|Answered|of which in time|Callbacks asked|"
        "Abandoned|Refused|Service level|Target|Mean wait|90th percentile wait|Breaches",
        "source": "Source",
        "motive": "Motive",
        "typology": "Typology",
        "none": "(none)",
        "short": "{n} short",
        "yes": "yes",
        "no": "no",
        "occupancy_line": "Advisor occupancy, all channels: {occupancy} "
        "({busy} busy of {staffed} staffed).",
        "charts": "Charts",
        "axis_received": "received",
        "day_title": "Interactions received per day",
        "day_note": "Per day of reception, local time.",
        "sl_title": "Service level per day",
        "sl_note": "Per day of reception; targets dashed.",
        "half_title": "Interactions received per half-hour of the day",
        "half_note": "The month's sum, per half-hour of reception.",
        "glossary": "Definitions",
        "g.counted": "An interaction's month: that of its deadline ({zone} time), when it is "
        "settled before that month ends; otherwise it is shown as pending at that month's end "
        "and counted once, in the month it is settled. Settled: answered, abandoned, a "
        "callback asked for, closed unanswered or handed to an outside party. The deadline is "
        "the one in force (a credited wait for the principal moves it).",
        "g.received": "Received: the interactions counted in the month; calls refused outside "
        "opening hours are not among them.",
        "g.answered": "Answered: given a first response (a call picked up, a first written "
        "answer, a hand-over to an outside party); in time: at or before the deadline.",
        "g.service_level": "Service level: (answered in time + callbacks asked for in time) / "
        "(answered + callbacks asked for + abandoned \u2212 short abandons). An abandon that "
        "is not short counts as missed; work closed unanswered has no outcome and is not "
        "counted.",
        "g.short_abandons": "Short abandons: abandoned after waiting less than the channel's "
        "threshold (short_abandon_s), never after the deadline. Counted apart, left out of the "
        "service level and of the abandonment rate.",
        "g.abandonment": "Abandonment rate: (abandoned \u2212 short) / (received \u2212 short).",
        "g.asa": "Average speed of answer (mean wait): the mean, over the answered, of the time "
        "from reception to the first response; for written and social work, the first-answer "
        "delay.",
        "g.waits": "Percentiles: the sorted waits' value of rank floor(p \u00d7 n) (the last "
        "beyond "
        "the end), p = 0.5, 0.9 and 0.99.",
        "g.breaches": "Breaches: interactions whose deadline passed without an answer.",
        "g.transferred": "Transferred: sent back to a queue by an advisor at least once; handed "
        "to an outside party apart.",
        "g.refused": "Refused: calls received outside opening hours (20:00 is closed), counted "
        "in the month of the refusal.",
        "g.handling": "Handling time: the time advisors held the interaction in hand (from "
        "accepting it to closing, transferring or setting it aside), the mean over the work "
        "handled and ended.",
        "g.occupancy": "Occupancy: busy time (work offered or in hand, wrap-up) / staffed time "
        "(available or busy; a pause with no work in hand is left out), within the month.",
        "g.pending": "Pending: interactions open at the month's end whose deadline had passed "
        "or fell in the month.",
        "g.availability": "Availability: the share of the calendar's opening hours (nothing "
        "outside them counts) the service, or the channel, worked. The service is down from a "
        "stop (or the last sign of life before a crash) to the restart, and from the loss of "
        "its journal to its return; a channel, from its failure to its return, and while the "
        "service is down.",
        "g.slots": "Per day and per half-hour: to the day and half-hour of reception; refusals, "
        "to when they were refused.",
        "g.callbacks": "Callbacks asked for: calls whose caller asked to be called back. The "
        "call is settled then and counts in the service level with the wait it had, neither "
        "answered nor closed unanswered, in the month of its deadline; the callback is counted "
        "apart, in the same month, as it stands at that month's end.",
        "g.callbacks_within": "Callbacks asked for in time: asked for no later than the call's "
        "target; a call that breached, then asked for one, counts once, not in time.",
        "g.callbacks_reached": "Reached: an attempt answered by the customer; unreached: closed "
        "callback_unanswered after the last attempt.",
        "g.callbacks_open": "Open callbacks: neither reached nor closed at the month's end.",
        "g.callbacks_made": "Callbacks made: first attempt started (an advisor takes it, the "
        "customer is dialled), whether the customer answers or not; in time: at or before the "
        "callback's deadline.",
        "g.callbacks_overdue": "Overdue callbacks: never attempted by the month's end, their "
        "deadline passed.",
        "g.callback_service_level": "Callback service level: made in time / (made + overdue). "
        "A callback not attempted yet and still in time has no outcome.",
    },
}


@dataclass(frozen=True, slots=True)
class MonthLanguage(Language):
    """The simulation report's language, with the monthly report's words first."""

    def __call__(self, key: str, **values: object) -> str:
        words = _WORDS[self.code]
        if key in words:
            return words[key].format(**values)
        return Language.__call__(self, key, **values)

    def glossary(self, zone: str) -> dict[str, str]:
        """Each figure's definition, by the glossary's keys."""
        return {key: self(f"g.{key}", zone=zone) for key in GLOSSARY}
