"""The answer templates through the API: which ones fit an interaction, and one filled in.

``GET /v1/templates?motive=…&language=…`` lists the templates offered for a motive in a
language (the advisor's workspace shows them beside the thread). An answer posted with a
``template`` and no ``text`` is that template filled in for its interaction (``fill``): the
customer's name from the personal data, the interaction's reference, its motive's label, the
due date of its SLA clock in the deployment's time zone, and the advisor's name.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get

from aiguillage.adapters.config.templates import Templates
from aiguillage.adapters.daemon.api.routes import STAFF, InvalidField, caller, runtime_of
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import UnknownInteraction
from aiguillage.engine.instants import to_datetime

__all__ = ["TEMPLATE_ROUTES", "TemplateOut", "fill", "reference_of"]

_DUE_FORMAT = {"fr": "%d/%m/%Y à %H:%M", "en": "%Y-%m-%d at %H:%M"}


class TemplateOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    language: str


def reference_of(interaction_id: int) -> str:
    """The reference a customer is given for an interaction."""
    return f"AIG-{interaction_id}"


@get("/v1/templates", summary="List the answer templates offered", tags=["conversations"])
async def list_templates(
    request: Request[Any, Any, Any], motive: str = "", language: str = "fr"
) -> list[TemplateOut]:
    """The templates in ``language`` offered for ``motive`` (every template when no motive)."""
    caller(request, "advisor", *STAFF)
    templates: Templates = runtime_of(request).loaded.templates
    return [
        TemplateOut(name=t.name, title=t.title, language=t.language)
        for t in sorted(templates, key=lambda t: t.name)
        if t.language == language and (not motive or t.offered_for(motive))
    ]


async def fill(runtime: Runtime, interaction_id: int, name: str) -> str:
    """Return template ``name`` filled in for an interaction, in its language."""

    def facts(engine: Engine) -> tuple[str, str, str, str]:
        state = engine.state
        found = state.interactions.get(interaction_id)
        if found is None:
            raise UnknownInteraction(f"no interaction {interaction_id} is open")
        motive = state.policies.motives.get(found.motive or "")
        label = motive.label if motive is not None and motive.label else found.motive or ""
        advisor = state.advisors.get(found.advisor_id or "")
        due = to_datetime(found.deadline, runtime.zone)
        language = found.language
        when = due.strftime(_DUE_FORMAT.get(language, _DUE_FORMAT["en"]))
        return language, label, when, advisor.name if advisor is not None else ""

    language, label, when, advisor_name = await runtime.read(facts)
    personal = await runtime.personal_data(interaction_id) or {}
    customer = personal.get("customer")
    customer_name = customer.get("name", "") if isinstance(customer, dict) else ""
    templates = runtime.loaded.templates
    try:
        template = templates.get(name, language)
    except LookupError as exc:
        raise InvalidField("template", str(exc)) from None
    values = {
        "customer_name": str(customer_name),
        "reference": reference_of(interaction_id),
        "motive": label,
        "due_date": when,
        "advisor_name": advisor_name,
    }
    return templates.render(template.name, language, {k: values[k] for k in template.variables})


TEMPLATE_ROUTES = [list_templates]
