"""The one Jinja environment for all generated text (C++, tcl, Makefiles, Markdown, HTML).

HTML templates (*.html.j2) are autoescaped: names come from the user's model file and must not become markup.
Markdown has no escaping of its own: templates pass names through the `md` filter (table cells, headings)."""

from functools import lru_cache

import jinja2

from jpq2hw.errors import printable
from jpq2hw.paths import TEMPLATES

_MD_SPECIAL = {"\\": "\\\\", "|": "\\|", "`": "\\`", "<": "&lt;", ">": "&gt;", "&": "&amp;"}


def markdown_text(value) -> str:
    """`value` as literal Markdown text on one line: table separators, code spans and HTML neutralized."""
    return printable("".join(_MD_SPECIAL.get(ch, ch) for ch in str(value)))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_text
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
