"""Answer templates: the shipped examples load and render; each mistake names file and line."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from aiguillage.adapters.config.templates import (
    VARIABLES,
    TemplateError,
    TemplatesSettings,
    load_templates,
)

EXAMPLES = Path(__file__).parents[3] / "docs" / "examples" / "templates"

VALUES = {
    "customer_name": "Mme Durand",
    "reference": "R-2027-0042",
    "motive": "remboursement",
    "due_date": "12/03/2027",
    "advisor_name": "Claire Martin",
}


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_examples_load_in_french_and_english() -> None:
    templates = load_templates(EXAMPLES)
    assert len(templates) == 4
    assert templates.offered("refunds", "fr") == [
        ("accuse-reception", "Accusé de réception"),
        ("remboursement-accorde", "Réponse : remboursement accordé"),
    ]
    assert templates.offered("lost_property", "en") == [
        ("accuse-reception", "Acknowledgement of receipt")
    ]
    assert templates.offered("refunds", "es") == []


def test_a_template_renders_with_the_values_given() -> None:
    templates = load_templates(EXAMPLES)
    text = templates.render("accuse-reception", "fr", VALUES)
    assert text.startswith("Bonjour Mme Durand,\n\nNous avons bien reçu votre demande R-2027-0042")
    assert "au plus\ntard le 12/03/2027." in text
    assert "{" not in text
    english = templates.render("remboursement-accorde", "en", VALUES)
    assert "Dear Mme Durand," in english
    assert "\nClaire Martin\n" in english


def test_a_value_missing_or_unknown_is_refused_at_render(tmp_path: Path) -> None:
    templates = load_templates(EXAMPLES)
    partial = {k: v for k, v in VALUES.items() if k != "due_date"}
    with pytest.raises(ValueError, match="needs a value for due_date"):
        templates.render("accuse-reception", "fr", partial)
    with pytest.raises(ValueError, match="unknown variables customer"):
        templates.render("accuse-reception", "fr", {**VALUES, "customer": "x"})
    with pytest.raises(LookupError, match=r"no template 'accuse' in language 'fr'.*accuse-rec"):
        templates.render("accuse", "fr", VALUES)


def test_doubled_braces_are_literal_and_motives_choose_what_is_offered(tmp_path: Path) -> None:
    write(
        tmp_path,
        "code.fr.md",
        '+++\ntitle = "Code"\nmotives = ["fines"]\n+++\nVotre code : {{{reference}}}\n',
    )
    templates = load_templates(tmp_path)
    assert templates.render("code", "fr", {"reference": "A1"}) == "Votre code : {A1}"
    assert templates.offered("fines", "fr") == [("code", "Code")]
    assert templates.offered("refunds", "fr") == []


def test_an_unknown_variable_names_the_file_the_line_and_the_known_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "relance.fr.md",
        '+++\ntitle = "Relance"\n+++\nBonjour {customer_name},\n\nVotre dossier {dossier}.\n',
    )
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path)
    assert (caught.value.path, caught.value.line) == (path, 6)
    message = str(caught.value)
    assert message.startswith(f"{path}:6: unknown variable {{dossier}}")
    assert ", ".join(VARIABLES) in message


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("Bonjour,\n", 1, "does not start with a `+++` line"),
        ('+++\ntitle = "x"\nBonjour\n', 1, "never closed"),
        ('+++\ntitle = "x\n+++\nBonjour\n', 2, "TOML syntax error"),
        ("+++\ntitle = 3\n+++\nBonjour\n", 2, "front matter: Expected `str`"),
        ('+++\ntitle = "x"\nmotive = ["a"]\n+++\nBonjour\n', None, "unknown field `motive`"),
        ('+++\ntitle = "x"\n+++\n\n', None, "the body is empty"),
        ('+++\ntitle = "x"\n+++\nBonjour {customer_name\n', 4, "unbalanced braces"),
        ('+++\ntitle = "x"\n+++\nVotre code } ici\n', 4, "unbalanced braces"),
        ('+++\ntitle = "x"\n+++\nLe {due_date:%d/%m}\n', 4, "{due_date} has a format"),
        ('+++\ntitle = "x"\n+++\nLe {}\n', 4, "unknown variable {}"),
        ('+++\ntitle = "x"\n+++\nLe {motive.upper}\n', 4, "unknown variable {motive.upper}"),
    ],
)
def test_a_broken_file_is_named_with_its_line(
    tmp_path: Path, text: str, line: int | None, problem: str
) -> None:
    path = write(tmp_path, "broken.fr.md", text)
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path)
    assert (caught.value.path, caught.value.line) == (path, line)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(str(path))
    assert " — fix: " in str(caught.value)


def test_file_names_and_the_directory_are_checked(tmp_path: Path) -> None:
    write(tmp_path / "t", "README.txt", "not a template")
    assert len(load_templates(tmp_path / "t")) == 0
    write(tmp_path / "t", "accuse reception.md", '+++\ntitle = "x"\n+++\nBonjour\n')
    with pytest.raises(TemplateError, match=r"not <name>\.<language>\.md"):
        load_templates(tmp_path / "t")
    with pytest.raises(TemplateError, match="does not exist or is not a directory"):
        load_templates(tmp_path / "nowhere")


def test_the_settings_section_names_a_directory_and_nothing_else() -> None:
    assert msgspec.convert({"dir": "templates"}, TemplatesSettings).dir == "templates"
    assert TemplatesSettings().dir == ""
    with pytest.raises(msgspec.ValidationError, match="unknown field `directory`"):
        msgspec.convert({"directory": "templates"}, TemplatesSettings)
