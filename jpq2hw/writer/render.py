"""Jinja environment for templates/: strict (an undefined variable is an error, never an empty string)."""

from __future__ import annotations

import jinja2

from jpq2hw import paths


def template_env(subdir: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.TEMPLATES / subdir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # Makefiles and C++ files end with a newline
        autoescape=False,
    )
