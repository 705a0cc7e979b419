"""The words of the simulation report, per language, and how each writes numbers and dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["DASH", "LANGUAGES", "Language"]

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "report": "Rapport de simulation",
        "period": "Du {start} au {end} ({zone}) : {days}.",
        "days": "{n} jours",
        "one_day": "1 jour",
        "moment": "{date} à {time}",
        "one_run": "Graine {seed} · stratégie de routage « {strategy} » · "
        "intervalles de {minutes} min",
        "runs": "{count} réplications (graines {seeds}) · stratégie de routage « {strategy} » · "
        "intervalles de {minutes} min",
        "seed_range": "{first} à {last}",
        "by_channel": "Par canal",
        "ci_note": "Moyenne des {count} réplications ; entre crochets, l'intervalle de confiance "
        "à 95 % de cette moyenne.",
        "columns": "Canal|Entrantes|Répondues|Abandonnées|Niveau de service|Objectif|"
        "Attente moyenne|Attente, 90e centile|Dépassements|Pénalités|Occupation",
        "short": "dont {n} courts",
        "met": "objectif atteint",
        "missed": "objectif manqué",
        "overall": "Occupation des conseillers, tous canaux : {occupancy}. "
        "Pénalités, tous canaux : {penalties}.",
        "told": "Attente annoncée aux appelants",
        "told_note": "À son arrivée, chaque appelant qui doit attendre se voit annoncer une "
        "attente estimée (arrondie à la minute supérieure), comparée ensuite à celle qu'il a eue.",
        "told_columns": "Canal|Appelants informés|Attente au-delà de l'annonce de plus de 60 s "
        "(objectif : {aim} au plus)|Écart moyen (en valeur absolue)|Annonces trop longues",
        "callbacks": "Rappels",
        "callbacks_note": "Un appelant à qui l'on annonce une attente au-delà de l'objectif se "
        "voit proposer d'être rappelé ; son appel compte dans le niveau de service avec "
        "l'attente qu'il avait alors. Le rappel a son propre délai, mesuré à part : il est fait "
        "à temps quand le premier essai commence avant son échéance. Pour voir le niveau de "
        "service sans rappels, simulez avec simulation.callbacks.accept = 0.",
        "callbacks_columns": "Canal|Rappels demandés|dont demandés dans le délai|Joints|"
        "Injoignables|Encore ouverts|Faits à temps|Niveau de service des rappels",
        "charts": "Graphiques",
        "day_title": "Interactions en attente au fil de la journée",
        "day_note": "Interactions en attente à la fin de chaque intervalle, moyenne par heure "
        "de la journée sur toute la période.",
        "week_title": "Interactions en attente au fil de la semaine",
        "week_note": "La même moyenne, par jour de la semaine et heure.",
        "sl_title": "Niveau de service par intervalle",
        "sl_note": "Répondues dans le délai sur répondues ou abandonnées, abandons courts "
        "écartés ({span}) ; objectifs en pointillés.",
        "occupancy_title": "Occupation par intervalle",
        "occupancy_note": "Temps occupé sur temps disponible ou occupé des conseillers du canal "
        "({span}).",
        "span_interval": "par intervalle de {minutes} min",
        "span_hours": "regroupé par tranches de {hours} h",
        "span_day": "regroupé par jour",
        "span_week": "regroupé par semaine",
        "breaches_title": "Dépassements de délai par jour",
        "breaches_note": "Comptés le jour de l'échéance manquée.",
        "breaches_mean": "Comptés le jour de l'échéance manquée ; moyenne des réplications.",
        "axis_waiting": "en attente",
        "axis_time": "heure",
        "axis_weekday": "jour de la semaine",
        "axis_date": "date",
        "axis_sl": "niveau de service",
        "axis_occupancy": "occupation",
        "axis_breaches": "dépassements",
        "target": "objectif",
        "no_data": "Aucune donnée",
        "definitions": "Niveau de service : interactions répondues dans le délai contractuel, "
        "sur celles dont l'issue est connue (répondues, abandonnées, ou en retard et encore "
        "ouvertes). Un abandon compte comme manqué ; ce qui reste ouvert et dans les temps à la "
        "fin de la période n'a pas encore d'issue et n'est pas compté.|Abandons courts : "
        "abandonnées après une attente plus courte que le seuil du canal (short_abandon_s, "
        "aucun par défaut) ; comptées à part dans les abandonnées, elles sont écartées du "
        "niveau de service et du taux d'abandon.|Attente : délai jusqu'à "
        "la première réponse (l'accusé de réception ne compte pas) ; 90e centile : 90 % des "
        "interactions répondues ont attendu moins.|Dépassements : échéances passées sans "
        "réponse ; pénalités : dépassements \u00d7 pénalité unitaire du canal.|Occupation : temps "
        "occupé sur temps disponible ou occupé (les pauses sans travail en main n'y sont "
        "pas) des conseillers pouvant servir le canal ; un intervalle sans "
        "occupation (canal fermé) reste en blanc, un regroupement fait la moyenne des autres."
        "|Attente annoncée : estimée à l'arrivée de l'appel (conseillers compétents en service, "
        "appels devant lui qu'ils peuvent prendre, durées de traitement et patience des "
        "appelants récentes) comme "
        "l'attente que quatre appelants sur cinq ne dépassent pas ; la part au-delà de "
        "l'annonce de plus de 60 s compte les répondus et les abandons, l'écart moyen et les "
        "annonces trop longues les seuls répondus (l'attente d'un abandon est écourtée)."
        "|Une simulation en temps virtuel donne des estimations, pas des mesures. Heures locales "
        "({zone}).",
        "channel.voice": "Téléphone",
        "channel.written": "Écrits",
        "channel.social": "Réseaux sociaux",
        "weekdays": "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "weekdays_short": "lun. mar. mer. jeu. ven. sam. dim.",
        "months": "janvier février mars avril mai juin juillet août septembre octobre novembre "
        "décembre",
        "months_short": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    },
    "en": {
        "report": "Simulation report",
        "period": "From {start} to {end} ({zone}): {days}.",
        "days": "{n} days",
        "one_day": "1 day",
        "moment": "{date}, {time}",
        "one_run": "Seed {seed} · routing strategy “{strategy}” · {minutes}-minute intervals",
        "runs": "{count} replications (seeds {seeds}) · routing strategy “{strategy}” · "
        "{minutes}-minute intervals",
        "seed_range": "{first} to {last}",
        "by_channel": "By channel",
        "ci_note": "Mean of the {count} replications; in brackets, the 95% confidence interval "
        "of that mean.",
        "columns": "Channel|Offered|Answered|Abandoned|Service level|Target|Mean wait|"
        "90th percentile wait|Breaches|Penalties|Occupancy",
        "short": "{n} short",
        "met": "target met",
        "missed": "target missed",
        "overall": "Advisor occupancy, all channels: {occupancy}. "
        "Penalties, all channels: {penalties}.",
        "told": "Wait announced to callers",
        "told_note": "On arrival, each caller who has to wait is told an estimated wait "
        "(rounded up to the minute), then set against the wait that followed.",
        "told_columns": "Channel|Callers told|Waited more than 60 s beyond it "
        "(aim: at most {aim})|Mean absolute error|Told too long",
        "callbacks": "Callbacks",
        "callbacks_note": "A caller told a wait past the target is offered to be called back; "
        "its call counts in the service level with the wait it had then. The callback has its "
        "own target, measured apart: it is made in time when its first attempt starts by its "
        "deadline. For the service level without callbacks, simulate with "
        "simulation.callbacks.accept = 0.",
        "callbacks_columns": "Channel|Callbacks asked for|of which within the SLA|Reached|"
        "Unreached|Still open|Made in time|Callback service level",
        "charts": "Charts",
        "day_title": "Backlog through the day",
        "day_note": "Interactions waiting at the end of each interval, averaged per time of day "
        "over the whole run.",
        "week_title": "Backlog through the week",
        "week_note": "The same average, per day of the week and time of day.",
        "sl_title": "Service level per interval",
        "sl_note": "Answered within the SLA over answered or abandoned, short abandons left out "
        "({span}); targets dashed.",
        "occupancy_title": "Occupancy per interval",
        "occupancy_note": "Busy time over available-or-busy time of the channel's advisors "
        "({span}).",
        "span_interval": "per {minutes}-minute interval",
        "span_hours": "grouped by {hours} hours",
        "span_day": "grouped by day",
        "span_week": "grouped by week",
        "breaches_title": "SLA breaches per day",
        "breaches_note": "Counted on the day of the missed deadline.",
        "breaches_mean": "Counted on the day of the missed deadline; mean of the replications.",
        "axis_waiting": "waiting",
        "axis_time": "time of day",
        "axis_weekday": "day of the week",
        "axis_date": "date",
        "axis_sl": "service level",
        "axis_occupancy": "occupancy",
        "axis_breaches": "breaches",
        "target": "target",
        "no_data": "No data",
        "definitions": "Service level: interactions answered within the contractual time, over "
        "those whose outcome is known (answered, abandoned, or late and still open). An abandon "
        "counts as missed; work still open and in time at the end of the run has no outcome yet "
        "and is not counted.|Short abandons: abandoned after waiting less than the channel's "
        "threshold (short_abandon_s, none by default); counted apart among the abandoned, they "
        "are left out of the service level and of the abandonment rate.|Wait: time to the first "
        "response (an acknowledgement of receipt does not count); 90th percentile: 90% of the "
        "answered interactions waited less."
        "|Breaches: deadlines passed without an answer; penalties: breaches \u00d7 the channel's "
        "penalty per breach.|Occupancy: busy time over available-or-busy time (a pause with no "
        "work in hand is left out) of the advisors able to serve the channel; an interval "
        "without any (channel closed) is left blank, and a group is the mean of the others."
        "|Announced wait: estimated on the call's arrival (skilled advisors at work, calls ahead "
        "of it they may take, recent handling times and callers' patience) as the wait four "
        "callers in five do not "
        "exceed; the share waiting more than 60 s beyond it counts the answered and the "
        "abandoned, the mean error and the share told too long the answered only (an "
        "abandon's wait is cut short)."
        "|A simulation in virtual time gives estimates, not measurements. Local times "
        "({zone}).",
        "channel.voice": "Voice",
        "channel.written": "Written",
        "channel.social": "Social networks",
        "weekdays": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "weekdays_short": "Mon Tue Wed Thu Fri Sat Sun",
        "months": "January February March April May June July August September October "
        "November December",
        "months_short": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    },
}

LANGUAGES = tuple(_WORDS)

DASH = "\u2013"
"""An en dash, between the bounds of an interval and of a period."""


@dataclass(frozen=True, slots=True)
class Language:
    """The words of one language, and how it writes numbers, shares, money and dates."""

    code: str

    def __call__(self, key: str, **values: object) -> str:
        return _WORDS[self.code][key].format(**values)

    def names(self, key: str) -> list[str]:
        return _WORDS[self.code][key].split()

    def number(self, value: float, digits: int = 0) -> str:
        text = f"{value:,.{digits}f}"
        if self.code == "fr":  # 12 345,6: a narrow no-break space groups thousands
            text = text.replace(",", "\u202f").replace(".", ",")
        return text

    def percent(self, share: float, digits: int = 1) -> str:
        number = self.number(share * 100, digits)
        return f"{number}\u00a0%" if self.code == "fr" else f"{number}%"

    def euros(self, amount: float) -> str:
        number = self.number(amount)
        return f"{number}\u00a0€" if self.code == "fr" else f"€{number}"

    def channel(self, name: str) -> str:
        return _WORDS[self.code].get(f"channel.{name}", name)

    def day(self, day: date) -> str:
        return f"{self.names('weekdays_short')[day.weekday()]} {day.day}"

    def day_month(self, day: date) -> str:
        return f"{day.day} {self.names('months_short')[day.month - 1]}"

    def month(self, day: date, *, year: bool) -> str:
        name = self.names("months_short")[day.month - 1]
        return f"{name} {day.year}" if year else name

    def date(self, day: date) -> str:
        weekday, month = self.names("weekdays")[day.weekday()], self.names("months")[day.month - 1]
        return f"{weekday} {day.day} {month} {day.year}"

    def moment(self, at: datetime) -> str:
        return self("moment", date=self.date(at), time=f"{at:%H:%M}")
