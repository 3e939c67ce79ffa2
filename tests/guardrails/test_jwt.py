import base64
import json

from tests.guardrails.conftest import found

SIGNATURE = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


def segment(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_a_signed_token():
    token = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment({'sub': '42'})}.{SIGNATURE}"
    assert found("jwt", f"Authorization: Bearer {token}") == [token]


def test_an_unsigned_token_still_counts():
    token = f"{segment({'alg': 'none'})}.{segment({'sub': '42'})}."
    assert found("jwt", f"token={token} ") == [token]


def test_header_without_alg_is_not_a_jwt():
    token = f"{segment({'typ': 'JWT'})}.{segment({'sub': '42'})}.{SIGNATURE}"
    assert found("jwt", token) == []


def test_base64_that_is_not_json_is_not_a_jwt():
    assert found("jwt", "eyJub3QganNvbg.eyJzdWIiOiI0MiJ9.abc eyJ.only.dots") == []
