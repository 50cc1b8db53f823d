"""Message templates (Jinja2 files, one folder per locale). The first line is the subject."""

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

DEFAULT_LOCALE = "id"
LOCALES = ("id", "en")


@dataclass(frozen=True)
class Rendered:
    """A message ready to deliver."""

    subject: str
    body: str


class TemplateRenderer:
    """Renders ``templates/<locale>/<name>.j2``; a missing variable is an error, not a blank."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("services.notify", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text messages (email text part, SMS, inbox)  # noqa: S701
            keep_trailing_newline=False,
        )

    def render(self, name: str, context: dict[str, Any], locale: str = DEFAULT_LOCALE) -> Rendered:
        """Subject and body of one message."""
        text = self._env.get_template(f"{locale}/{name}.j2").render(**context)
        subject, _, body = text.partition("\n\n")
        return Rendered(subject=subject.strip(), body=body.strip())

    def templates(self, locale: str = DEFAULT_LOCALE) -> list[str]:
        """The template names of a locale."""
        prefix = f"{locale}/"
        return sorted(
            name.removeprefix(prefix).removesuffix(".j2")
            for name in self._env.list_templates(extensions=["j2"])
            if name.startswith(prefix)
        )
