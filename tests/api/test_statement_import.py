"""Statement imports over HTTP: later deliveries, accounts, and every line accounted.

The files are small synthetic ones in the banks' layouts, so each test shows one rule; the
real files are in the corpus (``test_statement_corpus.py``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledger.commands.tenants import NewKey

ACCOUNT_NL = "NL91ABNA0417164300"
ACCOUNT_DE = "DE89370400440532013000"

INTERIM_MT942 = b"""\
:20:INTERIM1
:25:NL91ABNA0417164300
:28C:1/1
:34F:EURD0,
:13D:2606021200+0200
:61:2606020602D25,50NTRFNONREF//BANK001
:86:Coffee, as the interim statement words it
:61:2606020602D25,50NTRFNONREF
:86:Coffee
:90D:2EUR51,00
:90C:0EUR0,
"""

FINAL_MT940 = b"""\
:20:STMT20260602
:25:NL91ABNA0417164300
:28C:2/1
:60F:C260601EUR1000,00
:61:2606020602D25,50NTRFNONREF//BANK001
:86:Coffee, as the final statement words it
:61:2606020602D25,50NTRFNONREF
:86:Coffee
:61:2606020602D25,50NTRFNONREF
:86:Coffee
:61:2606020602C100,00NTRFINV1001//BANK002
:86:Invoice 1001
:62F:C260602EUR1023,50
"""

NEXT_DAY_MT940 = b"""\
:20:STMT20260603
:25:NL91ABNA0417164300
:28C:3/1
:60F:C260602EUR1023,50
:61:2606030603D25,50NTRFNONREF
:86:Coffee
:62F:C260603EUR998,00
"""


def mt940(account: str, reference: str) -> bytes:
    return (
        f":20:{reference}\n:25:{account}\n:28C:1/1\n:60F:C260601EUR0,00\n"
        f":61:2606010601C10,00NTRFNONREF\n:86:Deposit\n:62F:C260601EUR10,00\n"
    ).encode()


BANK_ERROR_OFX = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR
<MESSAGE>Signon invalid</STATUS><DTSERVER>20260602120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1></OFX>
"""


@pytest.fixture
def auth(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


async def upload(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    content: bytes,
    name: str = "statement.sta",
    stream: str = "bank",
    **form: str,
) -> httpx.Response:
    return await client.post(
        "/v1/records/import",
        files={"file": (name, content)},
        data={"data_stream_key": stream, **form},
        headers=auth,
    )


def counts(response: httpx.Response) -> tuple[int, int, int, int]:
    report: dict[str, Any] = response.json()
    return report["created"], report["existing"], report["skipped"], report["refused"]


async def test_the_final_statement_after_the_interim_one_adds_only_what_is_new(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    interim = await upload(client, auth, INTERIM_MT942, "interim.942")
    assert interim.status_code == 200, interim.text
    assert interim.json()["kind"] == "MT942"
    assert counts(interim) == (2, 0, 0, 0)
    final = await upload(client, auth, FINAL_MT940)
    assert final.status_code == 200, final.text
    assert counts(final) == (2, 2, 0, 0)
    assert [r["status"] for r in final.json()["data"]] == [200, 200, 201, 201]
    # The next day's file: the same coffee again is a new line, not a conflict.
    assert counts(await upload(client, auth, NEXT_DAY_MT940)) == (1, 0, 0, 0)
    records = (await client.get("/v1/records?data_stream_key=bank", headers=auth)).json()["data"]
    assert len(records) == 5
    assert sum(r["amount"] if r["direction"] == "credit" else -r["amount"] for r in records) == (
        -2550 * 4 + 10000
    )
    assert {r["metadata"]["account"] for r in records} == {ACCOUNT_NL}


async def test_a_file_of_several_accounts_is_refused_or_split(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    both = mt940(ACCOUNT_NL, "S1") + mt940(ACCOUNT_DE, "S2")
    refused = await upload(client, auth, both)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "STATEMENT_ACCOUNT_MISMATCH"
    assert refused.json()["details"]["accounts"] == [ACCOUNT_NL, ACCOUNT_DE]
    split = await upload(client, auth, both, split_by_account="true")
    assert split.status_code == 200, split.text
    assert split.json()["data_stream_keys"] == [f"bank:{ACCOUNT_DE}", f"bank:{ACCOUNT_NL}"]
    assert counts(split) == (2, 0, 0, 0)
    for account in (ACCOUNT_NL, ACCOUNT_DE):
        listed = await client.get(f"/v1/records?data_stream_key=bank:{account}", headers=auth)
        assert [r["metadata"]["account"] for r in listed.json()["data"]] == [account]


async def test_a_stream_keeps_its_account(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert counts(await upload(client, auth, mt940(ACCOUNT_NL, "S1"))) == (1, 0, 0, 0)
    other = await upload(client, auth, mt940(ACCOUNT_DE, "S2"))
    assert other.status_code == 422, other.text
    assert other.json()["details"]["stream_account"] == ACCOUNT_NL
    expected = await upload(client, auth, mt940(ACCOUNT_DE, "S2"), stream="de", account="DE12")
    assert expected.status_code == 422
    assert expected.json()["details"]["field"] == "account"
    assert (await client.get("/v1/records?data_stream_key=de", headers=auth)).json()["data"] == []


async def test_a_bank_error_response_is_a_422_naming_the_status(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await upload(client, auth, BANK_ERROR_OFX, "statement.ofx")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "BANK_ERROR_RESPONSE"
    assert body["details"]["status_code"] == "15500"
    assert "15500" in body["message"]


async def test_an_unreadable_line_is_named_in_plain_words(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    broken = FINAL_MT940.replace(b":61:2606020602C100,00", b":61:2613020602C100,00")
    response = await upload(client, auth, broken)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == (
        "statement.sta: statement 1 (STMT20260602), entry 4 (line 11): the :61: field has"
        " a value date 261302 that is not a date"
    )
    assert body["details"]["file"] == "statement.sta"
    assert (body["details"]["field"], body["details"]["statement_field"]) == ("file", "61")
    assert body["details"]["location"] == "statement 1 (STMT20260602), entry 4 (line 11)"
    # Nothing of the file was imported.
    assert (await client.get("/v1/records", headers=auth)).json()["data"] == []


async def test_a_nul_in_a_bank_file_is_stored_as_a_space(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    content = FINAL_MT940.replace(b"Invoice 1001", b"Invoice\x001001")
    response = await upload(client, auth, content)
    assert response.status_code == 200, response.text
    assert response.json()["data"][3]["record"]["description"] == "Invoice 1001"
