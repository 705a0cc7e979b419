"""The form's pages, written as HTML here (no template engine), every value escaped.

Built for RGAA 4.1 without a line of script: ``<html lang>``, a ``<title>`` that says when the
form has errors, a ``<label for>`` for each field, required fields said in words, the
``autocomplete`` purpose of personal fields, the errors listed at the top (each a link to its
field) and again beside each field (``aria-describedby``, ``aria-invalid``), fieldsets with
legends, the document order as the visual order, a visible focus, and colours of 4.5:1 or more
against their background (``COLOURS``, which the tests check). The only style is the one
``<style>`` element below, allowed by its hash in the Content-Security-Policy (``HEADERS``):
nothing else may load, run or frame the page.

The honeypot (``website``) is off-screen, out of the tab order and hidden from assistive
technologies; people never fill it, naive robots do.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from aiguillage.adapters.channels.webform.settings import Settings

__all__ = ["HEADERS", "TEXTS", "due_date", "form_page", "message_page", "thanks_page"]

COLOURS = {
    "text": ("#1a1a1a", "#ffffff"),
    "hint": ("#4a4a4a", "#ffffff"),
    "error": ("#b3261e", "#ffffff"),
    "summary": ("#1a1a1a", "#fdecea"),
    "summary-link": ("#b3261e", "#fdecea"),
    "button": ("#ffffff", "#1d4ed8"),
    "button-hover": ("#ffffff", "#143a9e"),
}
"""Each (foreground, background) pair the style uses."""

_C = COLOURS

STYLE = f"""
body {{ font-family: system-ui, sans-serif; font-size: 1rem; line-height: 1.5;
  color: {_C["text"][0]}; background: {_C["text"][1]}; margin: 0; }}
main {{ max-width: 42rem; margin: 0 auto; padding: 1rem; }}
fieldset {{ border: 1px solid #767676; margin: 0 0 1.5rem; padding: 1rem; }}
legend {{ font-weight: bold; padding: 0 .25rem; }}
label {{ display: block; font-weight: bold; margin-top: 1rem; }}
input, select, textarea {{ display: block; width: 100%; box-sizing: border-box; font: inherit;
  padding: .5rem; border: 2px solid #767676; color: {_C["text"][0]};
  background: {_C["text"][1]}; }}
textarea {{ min-height: 12rem; }}
.hint {{ color: {_C["hint"][0]}; background: {_C["hint"][1]}; margin: .25rem 0; }}
.error {{ color: {_C["error"][0]}; background: {_C["error"][1]}; font-weight: bold;
  margin: .25rem 0; }}
[aria-invalid="true"] {{ border-color: {_C["error"][0]}; }}
.summary {{ color: {_C["summary"][0]}; background: {_C["summary"][1]};
  border: 3px solid {_C["error"][0]}; padding: 1rem; margin-bottom: 1.5rem; }}
.summary a {{ color: {_C["summary-link"][0]}; background: {_C["summary-link"][1]}; }}
button {{ font: inherit; font-weight: bold; padding: .75rem 1.5rem; border: 0;
  color: {_C["button"][0]}; background: {_C["button"][1]}; cursor: pointer; }}
button:hover {{ color: {_C["button-hover"][0]}; background: {_C["button-hover"][1]}; }}
:focus-visible {{ outline: 3px solid #1a1a1a; outline-offset: 3px;
  box-shadow: 0 0 0 6px #ffffff; }}
.hp {{ position: absolute; left: -10000px; top: auto; width: 1px; height: 1px;
  overflow: hidden; }}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every page."""

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Déposer une réclamation",
        "intro": "Les champs marqués « obligatoire » doivent être remplis.",
        "required": "obligatoire",
        "optional": "facultatif",
        "contact": "Vos coordonnées",
        "complaint": "Votre réclamation",
        "name": "Nom et prénom",
        "email": "Adresse e-mail",
        "email_hint": "Nous vous répondrons à cette adresse. Format : nom@exemple.fr",
        "pass_reference": "Numéro de titre de transport ou de carte",
        "motive": "Motif",
        "choose": "Choisissez un motif",
        "text": "Votre message",
        "text_hint": "10 000 caractères au plus.",
        "attachments": "Pièces jointes",
        "attachments_hint": "{count} fichiers au plus, de {size} chacun au plus ; formats "
        "acceptés : {types}.",
        "honeypot": "Ne remplissez pas ce champ",
        "send": "Envoyer la réclamation",
        "error_title": "Erreur",
        "errors_one": "Le formulaire contient 1 erreur :",
        "errors_many": "Le formulaire contient {count} erreurs :",
        "err_required": "Ce champ est obligatoire.",
        "err_email": "Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.",
        "err_motive": "Choisissez un motif dans la liste.",
        "err_long": "Votre message dépasse 10 000 caractères ({count} saisis).",
        "err_field_long": "Ce champ est trop long ({limit} caractères au plus).",
        "err_count": "Joignez {limit} fichiers au plus.",
        "err_size": "Le fichier « {name} » dépasse {size}.",
        "err_type": "Le fichier « {name} » n'est pas dans un format accepté ({types}).",
        "err_again": "Joignez de nouveau vos fichiers : ils ne sont pas conservés.",
        "err_token": "Le formulaire a expiré. Vérifiez vos informations et envoyez-le de nouveau.",
        "err_rate": "Trop d'envois en peu de temps. Réessayez dans {minutes} minute(s).",
        "err_conflict": "Ce formulaire a déjà été envoyé avec un autre motif. Rechargez la "
        "page pour déposer une nouvelle réclamation.",
        "err_rejected": "Votre réclamation n'a pas pu être enregistrée : {detail}",
        "thanks_title": "Réclamation enregistrée",
        "thanks": "Nous avons bien reçu votre réclamation.",
        "reference": "Votre référence : {reference}",
        "due": "Nous vous répondrons par e-mail au plus tard le {due}.",
        "keep": "Conservez cette référence : elle vous sera demandée pour tout échange.",
        "received_title": "Réclamation envoyée",
        "received": "Merci, votre message a bien été envoyé.",
        "forbidden_title": "Envoi refusé",
        "forbidden": "Cet envoi ne provient pas du formulaire de réclamation. Ouvrez le "
        "formulaire et envoyez-le de nouveau.",
        "unavailable_title": "Service momentanément indisponible",
        "unavailable": "Votre réclamation n'a pas pu être enregistrée : réessayez dans un instant.",
        "bad_request_title": "Requête invalide",
        "bad_request": "Le formulaire n'a pas pu être lu. Ouvrez-le et envoyez-le de nouveau.",
        "back": "Revenir au formulaire",
        "acknowledgement": "Bonjour,\n\nNous avons bien reçu votre réclamation, enregistrée "
        "sous la référence {reference}. Nous vous répondrons au plus tard le {due}.\n\n"
        "Merci de rappeler cette référence dans vos échanges.\n",
    },
    "en": {
        "title": "File a complaint",
        "intro": "Fields marked “required” must be filled in.",
        "required": "required",
        "optional": "optional",
        "contact": "Your details",
        "complaint": "Your complaint",
        "name": "Full name",
        "email": "E-mail address",
        "email_hint": "We will answer at this address. Format: name@example.com",
        "pass_reference": "Ticket or pass number",
        "motive": "Subject",
        "choose": "Choose a subject",
        "text": "Your message",
        "text_hint": "10,000 characters at most.",
        "attachments": "Attachments",
        "attachments_hint": "{count} files at most, of {size} each at most; accepted formats: "
        "{types}.",
        "honeypot": "Leave this field empty",
        "send": "Send the complaint",
        "error_title": "Error",
        "errors_one": "The form has 1 error:",
        "errors_many": "The form has {count} errors:",
        "err_required": "This field is required.",
        "err_email": "Enter a valid e-mail address, for example name@example.com.",
        "err_motive": "Choose a subject from the list.",
        "err_long": "Your message is longer than 10,000 characters ({count} typed).",
        "err_field_long": "This field is too long ({limit} characters at most).",
        "err_count": "Attach {limit} files at most.",
        "err_size": "The file “{name}” is larger than {size}.",
        "err_type": "The file “{name}” is not in an accepted format ({types}).",
        "err_again": "Attach your files again: they are not kept.",
        "err_token": "The form has expired. Check your details and send it again.",
        "err_rate": "Too many submissions in a short time. Try again in {minutes} minute(s).",
        "err_conflict": "This form was already sent with another subject. Reload the page to "
        "file a new complaint.",
        "err_rejected": "Your complaint could not be recorded: {detail}",
        "thanks_title": "Complaint recorded",
        "thanks": "We have received your complaint.",
        "reference": "Your reference: {reference}",
        "due": "We will answer by e-mail by {due} at the latest.",
        "keep": "Keep this reference: you will be asked for it in any exchange.",
        "received_title": "Complaint sent",
        "received": "Thank you, your message was sent.",
        "forbidden_title": "Submission refused",
        "forbidden": "This submission does not come from the complaint form. Open the form and "
        "send it again.",
        "unavailable_title": "Service briefly unavailable",
        "unavailable": "Your complaint could not be recorded: try again in a moment.",
        "bad_request_title": "Invalid request",
        "bad_request": "The form could not be read. Open it and send it again.",
        "back": "Back to the form",
        "acknowledgement": "Hello,\n\nWe have received your complaint, recorded under the "
        "reference {reference}. We will answer by {due} at the latest.\n\n"
        "Please quote this reference in any exchange.\n",
    },
}

_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def due_date(deadline: str, language: str) -> str:
    """``2026-12-09T20:00:00+01:00`` -> ``mercredi 9 décembre 2026 à 20 h 00`` (or English)."""
    at = datetime.fromisoformat(deadline)
    day, month = _DAYS[language][at.weekday()], _MONTHS[language][at.month - 1]
    if language == "fr":
        first = "1er" if at.day == 1 else str(at.day)
        return f"{day} {first} {month} {at.year} à {at.hour} h {at.minute:02d}"
    return f"{day} {at.day} {month} {at.year} at {at.hour:02d}:{at.minute:02d}"


def size_text(size: int, language: str) -> str:
    """A byte count as people read it (``5 Mo``, ``5 MB``)."""
    unit = {"fr": ("o", "Ko", "Mo"), "en": ("B", "KB", "MB")}[language]
    if size >= 1024 * 1024:
        value, name = size / (1024 * 1024), unit[2]
    elif size >= 1024:
        value, name = size / 1024, unit[1]
    else:
        value, name = size, unit[0]
    number = f"{value:.1f}".removesuffix(".0")
    return f"{number.replace('.', ',') if language == 'fr' else number} {name}"


def types_text(types: Sequence[str]) -> str:
    return ", ".join(t.upper() for t in types)


def _document(language: str, title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    ).encode()


def message_page(settings: Settings, title_key: str, text: str, *, back: bool = True) -> bytes:
    """A page of one message (refused, unavailable, received), with a link to the form."""
    texts = TEXTS[settings.language]
    title = texts[title_key]
    link = f'<p><a href="./">{escape(texts["back"])}</a></p>' if back else ""
    body = f"<h1>{escape(title)}</h1>\n<p>{escape(text)}</p>\n{link}"
    return _document(settings.language, f"{title} - {_title(settings)}", body)


def thanks_page(settings: Settings, reference: str, due: str) -> bytes:
    texts = TEXTS[settings.language]
    body = (
        f"<h1>{escape(texts['thanks_title'])}</h1>\n<p>{escape(texts['thanks'])}</p>\n"
        f"<p><strong>{escape(texts['reference'].format(reference=reference))}</strong></p>\n"
        f"<p>{escape(texts['due'].format(due=due))}</p>\n<p>{escape(texts['keep'])}</p>"
    )
    return _document(settings.language, f"{texts['thanks_title']} - {_title(settings)}", body)


def _title(settings: Settings) -> str:
    return settings.title or TEXTS[settings.language]["title"]


class _Form:
    """The form's HTML, given the values typed and the errors found, by field name."""

    def __init__(
        self, settings: Settings, values: Mapping[str, str], errors: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.texts = TEXTS[settings.language]
        self.values = values
        self.errors = errors

    def label(self, name: str, text_key: str, *, required: bool) -> str:
        mark = self.texts["required" if required else "optional"]
        return f'<label for="{name}">{escape(self.texts[text_key])} ({mark})</label>'

    def described(self, name: str, hint: str) -> tuple[str, str]:
        """The hint's and error's paragraphs, and the field's aria attributes for them."""
        ids, html = [], ""
        if hint:
            ids.append(f"{name}-hint")
            html += f'<p class="hint" id="{name}-hint">{escape(hint)}</p>\n'
        if name in self.errors:
            ids.append(f"{name}-error")
            html += f'<p class="error" id="{name}-error">{escape(self.errors[name])}</p>\n'
        attributes = f' aria-describedby="{" ".join(ids)}"' if ids else ""
        if name in self.errors:
            attributes += ' aria-invalid="true"'
        return html, attributes

    def input(
        self, name: str, *, kind: str, autocomplete: str, required: bool, hint: str = ""
    ) -> str:
        notes, aria = self.described(name, hint)
        value = escape(self.values.get(name, ""))
        need = " required" if required else ""
        return (
            f"{self.label(name, name, required=required)}\n{notes}"
            f'<input type="{kind}" id="{name}" name="{name}" value="{value}" '
            f'autocomplete="{autocomplete}" maxlength="320"{need}{aria}>\n'
        )

    def select(self) -> str:
        notes, aria = self.described("motive", "")
        chosen = self.values.get("motive", "")
        options = [f'<option value="">{escape(self.texts["choose"])}</option>']
        for motive in self.settings.motives:
            selected = " selected" if motive.code == chosen else ""
            options.append(
                f'<option value="{escape(motive.code)}"{selected}>{escape(motive.label)}</option>'
            )
        return (
            f"{self.label('motive', 'motive', required=True)}\n{notes}"
            f'<select id="motive" name="motive" required{aria}>\n' + "\n".join(options) + "\n"
            "</select>\n"
        )

    def textarea(self) -> str:
        notes, aria = self.described("text", self.texts["text_hint"])
        return (
            f"{self.label('text', 'text', required=True)}\n{notes}"
            f'<textarea id="text" name="text" rows="10" required{aria}>'
            f"{escape(self.values.get('text', ''))}</textarea>\n"
        )

    def files(self) -> str:
        settings, language = self.settings, self.settings.language
        hint = self.texts["attachments_hint"].format(
            count=settings.max_attachments,
            size=size_text(settings.max_attachment_bytes, language),
            types=types_text(settings.allowed_types),
        )
        notes, aria = self.described("attachments", hint)
        accept = ",".join(
            {"pdf": ".pdf,application/pdf", "png": ".png,image/png"}.get(
                kind, ".jpg,.jpeg,image/jpeg"
            )
            for kind in settings.allowed_types
        )
        return (
            f"{self.label('attachments', 'attachments', required=False)}\n{notes}"
            f'<input type="file" id="attachments" name="attachments" multiple '
            f'accept="{accept}"{aria}>\n'
        )

    def summary(self) -> str:
        if not self.errors:
            return ""
        count = len(self.errors)
        heading = (
            self.texts["errors_one"]
            if count == 1
            else self.texts["errors_many"].format(count=count)
        )
        items = "".join(
            f'<li><a href="#{_ANCHORS.get(name, name)}">{escape(self._item(name, message))}'
            "</a></li>\n"
            for name, message in self.errors.items()
        )
        return (
            f'<div class="summary" role="alert" aria-labelledby="summary-title">\n'
            f'<h2 id="summary-title">{escape(heading)}</h2>\n<ul>\n{items}</ul>\n</div>\n'
        )

    def _item(self, name: str, message: str) -> str:
        if name not in _FIELDS:
            return message
        colon = " : " if self.settings.language == "fr" else ": "
        return f"{self.texts[name]}{colon}{message}"

    def html(self, token: str) -> str:
        settings = self.settings
        reference = ""
        if "pass_reference" in settings.fields:
            reference = self.input(
                "pass_reference", kind="text", autocomplete="off", required=False
            )
        contact = (
            self.input("name", kind="text", autocomplete="name", required=True)
            + self.input(
                "email",
                kind="email",
                autocomplete="email",
                required=True,
                hint=self.texts["email_hint"],
            )
            + reference
        )
        files = self.files() if settings.max_attachments else ""
        complaint = self.select() + self.textarea() + files
        form_error = ""
        if "form" in self.errors:
            form_error = f'<p class="error" id="form-error">{escape(self.errors["form"])}</p>\n'
        return (
            f"<h1>{escape(_title(settings))}</h1>\n{self.summary()}{form_error}"
            f"<p>{escape(self.texts['intro'])}</p>\n"
            '<form method="post" enctype="multipart/form-data" novalidate>\n'
            f'<input type="hidden" name="csrf_token" value="{escape(token)}">\n'
            f"<fieldset>\n<legend>{escape(self.texts['contact'])}</legend>\n{contact}"
            "</fieldset>\n"
            f"<fieldset>\n<legend>{escape(self.texts['complaint'])}</legend>\n{complaint}"
            "</fieldset>\n"
            '<div class="hp" aria-hidden="true">\n'
            f'<label for="website">{escape(self.texts["honeypot"])}</label>\n'
            '<input type="text" id="website" name="website" value="" tabindex="-1" '
            'autocomplete="off">\n</div>\n'
            f'<button type="submit">{escape(self.texts["send"])}</button>\n</form>'
        )


_ANCHORS = {"form": "form-error"}
_FIELDS = ("name", "email", "pass_reference", "motive", "text", "attachments")


def form_page(
    settings: Settings,
    token: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> bytes:
    """The form, with the values typed kept and each error beside its field."""
    form = _Form(settings, values or {}, errors or {})
    title = _title(settings)
    if errors:
        title = f"{TEXTS[settings.language]['error_title']} - {title}"
    return _document(settings.language, title, form.html(token))
