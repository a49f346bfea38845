"""A form's lists as a browser without JavaScript reads them, to post what it would post."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NativeSelect:
    """One <select>: its start tag, {option text: value}, and the values selected."""

    tag: str
    values: dict[str, str]
    selected: list[str]


def native_select(body: str, name: str) -> NativeSelect:
    """The <select> named `name` in a page (Django writes `name` first, options on one line)."""
    found = re.search(rf'(<select name="{re.escape(name)}"[^>]*>)(.*?)</select>', body, re.S)
    assert found, f"no <select> named {name}"
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', found.group(2))
    return NativeSelect(
        tag=found.group(1),
        values={text: value for value, _, text in options},
        selected=[value for value, chosen, _ in options if chosen],
    )
