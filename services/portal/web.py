"""What every page handler shares: the visitor's session and language, CSRF checks, rendering."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kernel.http import ProblemError
from services.portal import present
from services.portal.session import CSRF_FIELD, Session, SessionCookies
from services.portal.texts import LANGUAGES, status_label, translator

LANG_COOKIE = "lang"
PAGES = Environment(
    loader=PackageLoader("services.portal", "templates"), autoescape=True, undefined=StrictUndefined
)


def language(request: Request) -> str:
    """``?lang=`` first, then the visitor's earlier choice, then their browser's; Indonesian
    when none says otherwise."""
    for choice in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if choice in LANGUAGES:
            return choice
    accepted = request.headers.get("accept-language", "").lower()
    return "en" if accepted.startswith("en") else "id"


@dataclass
class Visit:
    """One request's visitor: who, in which language, and what the response must set."""

    request: Request
    session: Session
    lang: str
    cookies: SessionCookies
    new_session: bool

    def render(
        self, template: str, status: int = 200, *, unavailable: bool = False, **context: Any
    ) -> HTMLResponse:
        """The page; with ``unavailable``, a service it needs did not answer: said at the top,
        and a 503, so that an empty list is never mistaken for an empty queue."""
        t = self.t
        if unavailable:
            status = 503
        html = PAGES.get_template(template).render(
            unavailable=unavailable,
            t=t,
            lang=self.lang,
            other_lang="en" if self.lang == "id" else "id",
            path=self.request.url.path,
            session=self.session,
            csrf_field=CSRF_FIELD,
            status_label=lambda s: status_label(self.lang, s),
            when=present.when,
            zone_of=present.zone_of,
            place=present.place,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        self.finish(response)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> Response:
        if self.new_session:
            self.cookies.write(response, self.session)
        if self.request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, self.lang, max_age=365 * 86400, samesite="lax", httponly=True
            )
        response.headers["Cache-Control"] = "no-store"
        return response

    def signed(self, session: Session) -> None:
        """The session changed (sign-in, sign-out): the response sets it."""
        self.session = session
        self.new_session = True

    def check_csrf(self, form: Mapping[str, Any]) -> None:
        token = form.get(CSRF_FIELD)
        if not self.session.accepts(token if isinstance(token, str) else None):
            raise ProblemError(403, "csrf_failed", self.t("csrf"))

    @property
    def t(self) -> Callable[[str], str]:
        """The page's texts in the visitor's language."""
        return translator(self.lang)

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)


def visit(request: Request) -> Visit:
    cookies: SessionCookies = request.app.state.cookies
    session, new = cookies.read(request)
    return Visit(request, session, language(request), cookies, new)
