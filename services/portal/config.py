"""Settings of the portal."""

from pydantic import Field, SecretStr

from kernel.settings import ServiceSettings


class PortalSettings(ServiceSettings):
    """The portal: the citizen's and the officer's pages, over the services' public APIs."""

    service_name: str = Field(default="portal", description="Name in logs and metrics.")
    http_port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP server.")
    portal_intake_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Base URL of intake's API, as the portal calls it.",
    )
    portal_routing_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of routing's API."
    )
    portal_sla_url: str = Field(
        default="http://127.0.0.1:8003", description="Base URL of SLA's API."
    )
    portal_standards_url: str = Field(
        default="http://127.0.0.1:8005", description="Base URL of standards' API."
    )
    portal_session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Key that signs session cookies (32+ characters); empty: AUTH_JWT_SECRET.",
    )
    portal_cookie_secure: bool = Field(
        default=True,
        description="Mark the session cookie Secure (sent over HTTPS only); the development "
        "stack, served over plain HTTP on 127.0.0.1, turns it off.",
    )
    portal_dev_sign_in: bool = Field(
        default=True,
        description="Offer the development sign-in (pick a role and an agency, no identity "
        "provider); refused when ENVIRONMENT=production.",
    )
    portal_oidc_issuer: str = Field(
        default="",
        description="OpenID Connect provider (its issuer URL; discovery at "
        "/.well-known/openid-configuration); empty: no sign-in through a provider.",
    )
    portal_oidc_client_id: str = Field(default="", description="The portal's client ID there.")
    portal_oidc_client_secret: SecretStr = Field(
        default=SecretStr(""), description="The portal's client secret there."
    )
    portal_oidc_redirect_url: str = Field(
        default="",
        description="Where the provider sends people back: the portal's public URL of "
        "/masuk/oidc/callback, as registered with the provider.",
    )
    portal_session_hours: float = Field(
        default=8.0, gt=0, le=24, description="How long a sign-in lasts."
    )

    def session_key(self) -> str:
        """The key that signs session cookies."""
        own = self.portal_session_secret.get_secret_value()
        return own or self.auth_jwt_secret.get_secret_value()
