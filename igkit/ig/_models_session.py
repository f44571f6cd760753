"""Models of IG's session, account and application responses (see :mod:`igkit.ig.models`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ConfigDict, Field, SecretStr

from igkit.ig._model_base import IGModel


# -- session and accounts --------------------------------------------------------------------------------
class Balance(IGModel):
    balance: float | None = None
    deposit: float | None = None
    profit_loss: float | None = None
    available: float | None = None


class AccountSummary(IGModel):
    account_id: str
    account_name: str | None = None
    preferred: bool = False
    account_type: str | None = None


class LoginResponse(IGModel):
    """Body of ``POST /session`` v1/v2 (the tokens come as headers, kept by the session, not here)."""

    account_type: str | None = None
    account_info: Balance | None = None
    currency_iso_code: str | None = None
    currency_symbol: str | None = None
    current_account_id: str
    lightstreamer_endpoint: str | None = None
    accounts: list[AccountSummary] = Field(default_factory=list)
    client_id: str | None = None
    timezone_offset: float | None = None
    has_active_demo_accounts: bool | None = None
    has_active_live_accounts: bool | None = None
    trailing_stops_enabled: bool | None = None
    rerouting_environment: str | None = None
    dealing_enabled: bool | None = None


class OAuthToken(IGModel):
    """``oauthToken`` of a v3 login, or the body of ``POST /session/refresh-token``.

    ``expires_in`` is a string in IG's JSON ("60"); it is an ``int`` (seconds) here.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    access_token: SecretStr
    refresh_token: SecretStr
    scope: str | None = None
    token_type: str = "Bearer"
    expires_in: int


class LoginResponseV3(IGModel):
    client_id: str | None = None
    account_id: str
    timezone_offset: float | None = None
    lightstreamer_endpoint: str | None = None
    oauth_token: OAuthToken = Field(repr=False)


class SessionDetails(IGModel):
    """``GET /session`` v1."""

    client_id: str | None = None
    account_id: str
    timezone_offset: float | None = None
    locale: str | None = None
    currency: str | None = None
    lightstreamer_endpoint: str | None = None


class SwitchAccountResult(IGModel):
    """``PUT /session`` v1."""

    trailing_stops_enabled: bool | None = None
    dealing_enabled: bool | None = None
    has_active_demo_accounts: bool | None = None
    has_active_live_accounts: bool | None = None


class Account(IGModel):
    """One entry of ``GET /accounts`` v1 (``balance`` may be null)."""

    account_id: str
    account_name: str | None = None
    account_alias: str | None = None
    status: str | None = None
    account_type: str | None = None
    preferred: bool = False
    balance: Balance | None = None
    currency: str | None = None
    can_transfer_from: bool | None = None
    can_transfer_to: bool | None = None


class AccountPreferences(IGModel):
    trailing_stops_enabled: bool


class ApplicationInfo(IGModel):
    """One entry of ``GET /operations/application``: the API key's and the account's allowances."""

    name: str | None = None
    api_key: SecretStr | None = None
    status: str | None = None
    allowance_application_overall: int | None = None
    allowance_account_trading: int | None = None
    allowance_account_overall: int | None = None
    allowance_account_historical_data: int | None = None
    concurrent_subscriptions_limit: int | None = None
    allow_equities: bool | None = None
    allow_quote_orders: bool | None = None
    created_date: str | None = None


@dataclass(frozen=True, slots=True)
class StreamingCredentials:
    """What the Lightstreamer client needs: ``password`` is ``CST-…|XST-…`` and never shown in a repr."""

    endpoint: str
    account_id: str
    password: str = field(repr=False)
