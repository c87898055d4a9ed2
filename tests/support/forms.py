"""Reading pages as a browser without JavaScript does: find a form, fill it, send it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "get")))
        elif not self.forms:
            return
        elif tag == "input" and "name" in attributes:
            self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "select":
            self._select = attributes.get("name")
            self.forms[-1].options[self._select] = []
        elif tag == "option" and self._select:
            self.forms[-1].options[self._select].append(attributes.get("value", ""))
        elif tag == "button":
            self._in_button = True
            self.forms[-1].buttons.append("")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data):
        if self._in_button and self.forms:
            self.forms[-1].buttons[-1] += data.strip()


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_to(html: str, action_contains: str, button: str | None = None) -> Form:
    """The form whose action contains ``action_contains`` (and whose button says ``button``)."""
    for form in forms_of(html):
        if action_contains in form.action and (button is None or any(button in b for b in form.buttons)):
            return form
    raise AssertionError(f"no form to {action_contains!r} (button {button!r}) on the page")
