from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from clients.m3 import IonApiFile, load_ionapi
from tests.clients_m3.conftest import FIXTURES


def test_loads_every_key_and_derives_urls(ionapi: IonApiFile) -> None:
    assert ionapi.ti == "M3BNG_TST"
    assert ionapi.ci == "M3BNG_TST~Xb3kq9ZpL0aR7v"
    assert ionapi.cs.get_secret_value() == "cs-DO-NOT-LOG-7f3a9c1e"
    assert ionapi.saak == "M3BNG_TST#saak-Lq8w2Xe5"
    assert ionapi.sask.get_secret_value() == "sask-DO-NOT-LOG-c0ffee42"
    assert ionapi.or_ == "revoke_token.oauth2"
    assert ionapi.token_url == "https://mingle-sso.example.test:443/M3BNG_TST/as/token.oauth2"
    assert ionapi.revoke_url == "https://mingle-sso.example.test:443/M3BNG_TST/as/revoke_token.oauth2"
    assert ionapi.m3_base_url == "https://mingle-ionapi.example.test/M3BNG_TST/M3"
    assert ionapi.ru is None


def test_repr_and_str_hide_secrets(ionapi: IonApiFile) -> None:
    for text in (repr(ionapi), str(ionapi), repr(ionapi.model_dump())):
        assert "cs-DO-NOT-LOG" not in text
        assert "sask-DO-NOT-LOG" not in text
    assert "saak-Lq8w2Xe5" not in repr(ionapi)
    assert "M3BNG_TST" in repr(ionapi)


def test_extra_keys_ignored_numbers_accepted_and_bom_tolerated(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "test.ionapi").read_text())
    data.update({"dt": 12, "v": 1.0, "unknown_future_key": "x", "iu": "https://gw.example.test/"})
    path = tmp_path / "bom.ionapi"
    path.write_text(json.dumps(data), encoding="utf-8-sig")
    loaded = load_ionapi(path)
    assert loaded.dt == "12"
    assert loaded.m3_base_url == "https://gw.example.test/M3BNG_TST/M3"
    assert not hasattr(loaded, "unknown_future_key")


def test_missing_secret_is_rejected(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "test.ionapi").read_text())
    del data["sask"]
    path = tmp_path / "broken.ionapi"
    path.write_text(json.dumps(data))
    with pytest.raises(ValidationError, match="sask"):
        load_ionapi(path)
