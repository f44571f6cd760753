"""Config: layering, validation errors that name file + key + expectation, secrets, mode fallback.

Every test here runs with ``IGKIT_HOME`` pointed at a temporary copy of ``config/`` that has no
``local.json``: the README tells users to create ``config/local.json`` with their IG credentials, and
that file must not change what these tests see (``test_suite_ignores_the_developers_local_json`` runs
this module against a project copy that has one).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import igkit
from igkit.config import Config, load_config, redact
from igkit.errors import ConfigError
from igkit.types import Mode

ROOT = Path(__file__).resolve().parents[1]


def config_copy(dest: Path, *, local: Path | None = None) -> Path:
    """``dest/config/`` holding the project's config files except ``local.json`` (``local`` in its place
    when given); returns ``dest``, a folder ``IGKIT_HOME`` can name."""
    (dest / "config").mkdir(parents=True)
    for f in (ROOT / "config").glob("*.json"):
        if f.name != "local.json":
            shutil.copy2(f, dest / "config" / f.name)
    if local is not None:
        shutil.copy2(local, dest / "config" / "local.json")
    return dest


@pytest.fixture(autouse=True)
def _without_local_json(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The default local layer is a ``config/local.json`` that does not exist, whatever the developer has."""
    home = config_copy(tmp_path_factory.mktemp("igkit-home"))
    monkeypatch.setenv("IGKIT_HOME", str(home))
    yield home


def write(tmp_path: Path, data: object, name: str = "local.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def test_global_defaults_load_and_validate() -> None:
    cfg = load_config(environ={})
    raw = json.loads((ROOT / "config" / "global.json").read_text())
    assert cfg.version == raw["version"]
    assert cfg.broker == raw["broker"] == "demo"
    assert cfg.instruments == raw["instruments"]
    assert cfg.ig.endpoints.demo == raw["ig"]["endpoints"]["demo"]
    assert cfg.limits.account_trading_per_min == 100
    assert cfg.mode is Mode.DEMO
    assert cfg.sources[0] == "config/global.json"


def test_test_config_is_used_by_the_suite() -> None:
    cfg = igkit.load_config()
    assert any(s.endswith("test.json") for s in cfg.sources)
    assert cfg.broker == "demo" and not cfg.ig.api_key and cfg.market.seed == 7


def test_layers_later_wins(tmp_path: Path) -> None:
    local = write(tmp_path, {"market": {"seed": 11}, "candles": {"freq": "5min"}})
    cfg = load_config(local, environ={"IGKIT_MARKET__SEED": "12", "IGKIT_MARKET__SPEED": "null"})
    assert cfg.market.seed == 12  # env beats the local file
    assert cfg.market.speed is None  # JSON null from the environment
    assert cfg.candles.freq == "5min"  # local beats global
    assert cfg.market.tick_rate == 4.0  # global kept where nobody overrides


def test_igkit_config_env_replaces_local(tmp_path: Path) -> None:
    other = write(tmp_path, {"broker": "ig", "ig": {"environment": "sim"}}, "other.json")
    cfg = load_config(environ={"IGKIT_CONFIG": str(other)})
    assert cfg.mode is Mode.SIM
    assert str(other) in cfg.sources


def test_env_lists_and_mode_shortcut() -> None:
    cfg = load_config(environ={"IGKIT_INSTRUMENTS": '["CS.D.GBPUSD.MINI.IP"]', "IGKIT_MODE": "sim"})
    assert cfg.instruments == ["CS.D.GBPUSD.MINI.IP"]
    assert cfg.broker == "ig" and cfg.ig.environment == "sim"


def test_unrelated_igkit_variables_are_ignored() -> None:
    cfg = load_config(environ={"IGKIT_DEMO_SECONDS": "3", "IGKIT_FAST": "1"})
    assert isinstance(cfg, Config)


BAD_FILES = [
    ({"ig": {"environment": "prod"}}, "ig.environment", 'expected one of demo, live, sim, got "prod"'),
    ({"ig": {"enviroment": "demo"}}, "ig.enviroment", "did you mean 'environment'"),
    ({"brokr": "ig"}, "brokr", "did you mean 'broker'"),
    ({"market": {"seed": "5"}}, "market.seed", 'expected an integer, got "5"'),
    ({"market": {"tick_rate": -1}}, "market.tick_rate", "greater than 0"),
    ({"market": {"seed": 1.5}}, "market.seed", "expected an integer"),
    ({"broker": "paper"}, "broker", "expected one of demo, ig"),
    ({"instruments": "EURUSD"}, "instruments", "expected a list"),
    ({"ig": {"api_version": 4}}, "ig.api_version", "expected one of 2, 3"),
    ({"ig": {"endpoints": {"demo": "ftp://x"}}}, "ig.endpoints.demo", "http:// or https:// URL"),
    ({"ig": {"confirm_live": "yes"}}, "ig.confirm_live", "expected true or false"),
    ({"risk": {"risk_per_trade": 2}}, "risk.risk_per_trade", "less than or equal to 1"),
    ({"ig": "nope"}, "ig", "expected an object"),
    ({"sweep": {"n_workers": 0}}, "sweep.n_workers", "greater than 0"),
]


@pytest.mark.parametrize(("data", "key", "expected"), BAD_FILES)
def test_bad_values_name_file_key_and_expectation(tmp_path: Path, data: object, key: str, expected: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert expected in msg, msg
    assert info.value.key == key and info.value.source == str(path)


def test_malformed_json_names_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, '{"broker": "demo",\n  "ig": {oops}}')
    with pytest.raises(ConfigError, match=r"local\.json: malformed JSON at line 2 column"):
        load_config(path, environ={})


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a JSON object at the top level, got list"):
        load_config(write(tmp_path, [1, 2]), environ={})


def test_missing_file_that_was_asked_for(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"nope\.json: file not found"):
        load_config(missing, environ={})
    with pytest.raises(ConfigError, match=r"nope\.json: file not found"):
        load_config(environ={"IGKIT_CONFIG": str(missing)})


def test_missing_local_json_is_fine_when_not_asked_for() -> None:
    # config/local.json is optional; with no IGKIT_CONFIG it is merely skipped when absent
    cfg = load_config(environ={})
    assert cfg.sources[0] == "config/global.json"


@pytest.mark.parametrize(
    ("env", "source", "expected"),
    [
        ({"IGKIT_IG__ENVIRONMENT": "prod"}, "env IGKIT_IG__ENVIRONMENT: ig.environment", "expected one of"),
        ({"IGKIT_FOO__BAR": "1"}, "env IGKIT_FOO__BAR: foo", "unknown key"),
        ({"IGKIT_MODE": "paper"}, "env IGKIT_MODE", "expected one of demo, sim, ig-demo, ig-live"),
        ({"IGKIT_MARKET__": "1"}, "env IGKIT_MARKET__", "malformed variable name"),
        ({"IGKIT_MARKET__SEED": "abc"}, "env IGKIT_MARKET__SEED: market.seed", "expected an integer"),
    ],
)
def test_bad_environment_variables_are_named(env: dict[str, str], source: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=env)
    assert str(info.value).startswith(source), str(info.value)
    assert expected in str(info.value)


def test_error_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, {"broker": "x", "market": {"seed": "y"}})
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "broker" in str(info.value) and "market.seed" in str(info.value)


SECRET_KEY = "APIKEY-0123456789abcdef"
SECRET_PW = "hunter2-Very-Secret!"


def test_secrets_never_in_repr_str_or_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, {"broker": "ig", "ig": {"api_key": SECRET_KEY, "password": SECRET_PW, "username": "u1"}})
    cfg = load_config(path, environ={})
    assert cfg.ig.api_key is not None and cfg.ig.api_key.get_secret_value() == SECRET_KEY
    for text in (repr(cfg), str(cfg), repr(cfg.ig), str(cfg.ig), cfg.model_dump_json()):
        assert SECRET_KEY not in text and SECRET_PW not in text
    # a validation error elsewhere in the same file does not echo the secrets either
    bad = write(tmp_path, {"ig": {"api_key": SECRET_KEY, "password": 12345678, "environment": "x"}}, "bad.json")
    with pytest.raises(ConfigError) as info:
        load_config(bad, environ={})
    assert SECRET_KEY not in str(info.value) and "12345678" not in str(info.value)
    # and the log filter scrubs a secret that reaches a log line by accident
    with caplog.at_level(logging.INFO, logger="igkit"):
        logging.getLogger("igkit.test").info("sending key %s", SECRET_KEY)
    assert SECRET_KEY not in caplog.text and "***" in caplog.text
    assert redact(f"x{SECRET_PW}y") == "x***y"


def test_missing_credentials_fall_back_to_demo_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, {"broker": "ig", "ig": {"environment": "demo", "api_key": "k" * 8}})
    cfg = load_config(path, environ={})
    assert cfg.mode is Mode.IG_DEMO and not cfg.has_credentials
    with caplog.at_level(logging.WARNING):
        mode, warnings = cfg.resolve_mode()
    assert mode is Mode.DEMO
    assert "ig.username" in warnings[0] and "ig.password" in warnings[0] and "Demo" in warnings[0]
    assert "falling back to Demo" in caplog.text


def test_live_needs_confirmation_in_config_and_call(tmp_path: Path) -> None:
    creds = {"api_key": "k" * 8, "username": "me", "password": "p" * 8}
    unconfirmed = load_config(write(tmp_path, {"broker": "ig", "ig": {"environment": "live", **creds}}), environ={})
    with pytest.raises(ConfigError, match="real money"):
        unconfirmed.resolve_mode(confirm_live=True)
    confirmed = load_config(
        write(tmp_path, {"broker": "ig", "ig": {"environment": "live", "confirm_live": True, **creds}}, "c.json"),
        environ={},
    )
    with pytest.raises(ConfigError, match="real money"):
        confirmed.resolve_mode()
    assert confirmed.resolve_mode(confirm_live=True) == (Mode.IG_LIVE, [])
    # live without credentials never goes live: Demo, with a warning
    nocreds = load_config(write(tmp_path, {"broker": "ig", "ig": {"environment": "live"}}, "n.json"), environ={})
    assert nocreds.resolve_mode(confirm_live=True)[0] is Mode.DEMO


def test_sim_needs_no_credentials() -> None:
    cfg = load_config(environ={"IGKIT_MODE": "sim"})
    assert cfg.resolve_mode() == (Mode.SIM, [])
    assert cfg.ig.base_url is None  # None → an in-process simulator


def test_config_is_immutable() -> None:
    cfg = load_config(environ={})
    with pytest.raises(Exception, match="frozen"):
        cfg.broker = "ig"  # type: ignore[misc]


def test_local_example_has_the_documented_shape() -> None:
    cfg = load_config(ROOT / "config" / "local.example.json", environ={})
    assert cfg.broker == "ig" and cfg.ig.username and cfg.ig.account_id


def test_local_json_is_gitignored() -> None:
    assert "config/local.json" in (ROOT / ".gitignore").read_text().splitlines()


def test_suite_ignores_the_developers_local_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a project copy where the user did what the README says: config/local.json from the example
    proj = config_copy(tmp_path / "proj", local=ROOT / "config" / "local.example.json")
    (proj / "tests").mkdir()
    for name in ("tests/conftest.py", "tests/test_config.py", "pyproject.toml", ".gitignore"):
        shutil.copy2(ROOT / name, proj / name)
    # that local.json really is the default local layer there (so the run below could fail)
    monkeypatch.setenv("IGKIT_HOME", str(proj))
    assert load_config(environ={}).broker == "ig"
    env = {k: v for k, v in os.environ.items() if k not in {"IGKIT_HOME", "IGKIT_CONFIG"}}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py",
         "-k", "not test_suite_ignores_the_developers_local_json"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
