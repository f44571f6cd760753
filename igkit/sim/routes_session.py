"""Session and account routes: login v1/v2/v3, refresh, GET/PUT/DELETE /session, accounts, preferences,
application limits."""

from __future__ import annotations

import re
from typing import Any

from igkit.sim._ledger import currency_symbol
from igkit.sim._util import ApiError
from igkit.sim.server import Ctx, Reply, Router

__all__ = ["register"]

_IDENT = re.compile(r"[A-Za-z0-9\-_]{1,30}")
_ACCOUNT = re.compile(r"[A-Za-z0-9\-]{1,30}")


def _login_fields(ctx: Ctx) -> tuple[str, str]:
    body = ctx.body
    for name in ("identifier", "password"):
        if body.get(name) is None:
            raise ApiError(400, f"validation.null-not-allowed.authenticationRequest.{name}")
    ident, pwd = str(body["identifier"]), str(body["password"])
    if not _IDENT.fullmatch(ident):
        raise ApiError(400, "validation.pattern.invalid.authenticationRequest.identifier")
    if not 1 <= len(pwd) <= 350:
        raise ApiError(400, "validation.pattern.invalid.authenticationRequest.password")
    if body.get("encryptedPassword"):
        raise ApiError(400, "error.public-api.failure.encryption.not-supported")
    return ident, pwd


def _account_list(ctx: Ctx) -> list[dict[str, Any]]:
    return [{"accountId": a.account_id, "accountName": a.name, "preferred": a.preferred,
             "accountType": a.account_type} for a in ctx.sim.broker.accounts.values()]


def login(ctx: Ctx) -> Reply:
    ident, pwd = _login_fields(ctx)
    sim = ctx.sim
    if ctx.version >= 3:
        session, oauth = sim.auth.login_oauth(ident, pwd)
        return Reply({
            "clientId": sim.broker.client_id,
            "accountId": session.account_id,
            "timezoneOffset": 0,
            "lightstreamerEndpoint": sim.lightstreamer_url,
            "oauthToken": oauth,
        })
    session = sim.auth.login_cst(ident, pwd)
    acc = sim.broker.account(session.account_id)
    with sim.broker.lock:
        info = sim.broker.balance(acc.account_id)
    body = {
        "accountType": acc.account_type,
        "accountInfo": {"balance": info["balance"], "deposit": info["deposit"],
                        "profitLoss": info["profitLoss"], "available": info["available"]},
        "currencyIsoCode": acc.currency,
        "currencySymbol": currency_symbol(acc.currency),
        "currentAccountId": acc.account_id,
        "lightstreamerEndpoint": sim.lightstreamer_url,
        "accounts": _account_list(ctx),
        "clientId": sim.broker.client_id,
        "timezoneOffset": 0,
        "hasActiveDemoAccounts": True,
        "hasActiveLiveAccounts": False,
        "trailingStopsEnabled": acc.trailing_stops_enabled,
        "reroutingEnvironment": None,
        "dealingEnabled": True,
    }
    assert session.cst is not None and session.xst is not None
    return Reply(body, headers={"CST": session.cst, "X-SECURITY-TOKEN": session.xst})


def refresh(ctx: Ctx) -> dict[str, str]:
    token = ctx.body.get("refresh_token")
    if token is None:
        raise ApiError(400, "validation.null-not-allowed.request.refresh_token")
    return ctx.sim.auth.refresh(str(token))


def get_session(ctx: Ctx) -> Reply:
    session = ctx.need_session()
    account = ctx.need_account()
    acc = ctx.sim.broker.account(account)
    body = {
        "clientId": ctx.sim.broker.client_id,
        "accountId": account,
        "timezoneOffset": 0,
        "locale": "en_GB",
        "currency": acc.currency,
        "lightstreamerEndpoint": ctx.sim.lightstreamer_url,
    }
    headers: dict[str, str] = {}
    if str(ctx.query.get("fetchSessionTokens", "false")).lower() == "true":
        if session.kind == "oauth":
            session.account_id = account
        cst, xst = ctx.sim.auth.session_tokens(session)
        headers = {"CST": cst, "X-SECURITY-TOKEN": xst}
    return Reply(body, headers=headers)


def switch(ctx: Ctx) -> Reply:
    account = ctx.body.get("accountId")
    if account is None:
        raise ApiError(400, "validation.null-not-allowed.request.accountId")
    if not _ACCOUNT.fullmatch(str(account)):
        raise ApiError(400, "validation.pattern.invalid.request.accountId")
    session = ctx.need_session()
    if session.kind == "oauth":
        session.account_id = ctx.need_account()
    xst = ctx.sim.auth.switch(session, str(account))
    broker = ctx.sim.broker
    if ctx.body.get("defaultAccount"):
        with broker.lock:
            for a in broker.accounts.values():
                a.preferred = a.account_id == account
    acc = broker.account(str(account))
    body = {
        "trailingStopsEnabled": acc.trailing_stops_enabled,
        "dealingEnabled": True,
        "hasActiveDemoAccounts": True,
        "hasActiveLiveAccounts": False,
    }
    return Reply(body, headers={"X-SECURITY-TOKEN": xst})


def logout(ctx: Ctx) -> Reply:
    ctx.sim.auth.logout(ctx.need_session())
    return Reply(None, status=204)


def accounts(ctx: Ctx) -> dict[str, Any]:
    broker = ctx.sim.broker
    out = []
    with broker.lock:
        for a in broker.accounts.values():
            out.append({
                "accountId": a.account_id,
                "accountName": a.name,
                "accountAlias": None,
                "status": a.status,
                "accountType": a.account_type,
                "preferred": a.preferred,
                "balance": broker.balance(a.account_id),
                "currency": a.currency,
                "canTransferFrom": True,
                "canTransferTo": True,
            })
    return {"accounts": out}


def get_preferences(ctx: Ctx) -> dict[str, Any]:
    return {"trailingStopsEnabled": ctx.sim.broker.account(ctx.need_account()).trailing_stops_enabled}


def put_preferences(ctx: Ctx) -> dict[str, Any]:
    value = ctx.body.get("trailingStopsEnabled")
    if value is None:
        raise ApiError(400, "validation.null-not-allowed.request.trailingStopsEnabled")
    if not isinstance(value, bool):
        raise ApiError(400, "invalid.request.trailingStopsEnabled")
    ctx.sim.broker.account(ctx.need_account()).trailing_stops_enabled = value
    return {"status": "SUCCESS"}


def application(ctx: Ctx) -> list[dict[str, Any]]:
    lim = ctx.sim.limiter.limits
    return [{
        "name": "IGKIT_SIMULATOR",
        "apiKey": ctx.api_key,
        "status": "ENABLED",
        "allowanceApplicationOverall": lim.app_non_trading or 0,
        "allowanceAccountTrading": lim.account_trading or 0,
        "allowanceAccountOverall": lim.account_non_trading or 0,
        "allowanceAccountHistoricalData": lim.historical_points,
        "concurrentSubscriptionsLimit": 40,
        "allowEquities": False,
        "allowQuoteOrders": False,
        "createdDate": "2026-01-01",
    }]


def register(r: Router) -> None:
    r.add("POST", "/session", login, auth=False)
    r.add("POST", "/session/refresh-token", refresh, auth=False)
    r.add("GET", "/session", get_session)
    r.add("PUT", "/session", switch)
    r.add("DELETE", "/session", logout)
    r.add("GET", "/accounts", accounts)
    r.add("GET", "/accounts/preferences", get_preferences)
    r.add("PUT", "/accounts/preferences", put_preferences)
    r.add("GET", "/operations/application", application)
