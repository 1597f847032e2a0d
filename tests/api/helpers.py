"""Constants, test data and the ``Api`` handle shared by the API tests."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # starlette's notice about httpx versions, not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from harmrank.api.security import mint_token
from harmrank.config import config_from_dict
from harmrank.scoring import backfill
from harmrank.store import Store
from harmrank.testing import store_from_rows

LPAS = ["Herefordshire", "Shropshire", "Telford & Wrekin"]
MONTHS = ("2025-01", "2025-06")
LAST = "2025-06"
XSS_ID = 'N<img src=x onerror="alert(1)">'
JUSTIFICATION = "case review 2025/117: MARAC referral"


def _crime(crime_id: str, ho_code: str, recorded_on: str, lpa: str, victim: str) -> dict[str, Any]:
    return {
        "crime_id": crime_id,
        "ho_code": ho_code,
        "recorded_on": recorded_on,
        "lpa": lpa,
        "victim_id": victim,
        "domestic_abuse": "true",
    }


def scored_rows() -> dict[str, Any]:
    """A small force: Shropshire with a repeat suspect (two rapes), a nominal whose harm ends
    in a zero (3142.094880), a frequent offender and a nominal whose id is markup; one nominal
    each in Herefordshire and Telford & Wrekin."""
    crimes, links = [], []

    def add(nominal: str, *rows: tuple[str, str, str, str, str]) -> None:
        for row in rows:
            crimes.append(_crime(*row))
            links.append({"crime_id": row[0], "nominal_id": nominal, "role": "suspect"})

    add(
        "NS01",
        ("CS011", "19C", "2025-03-14", "Shropshire", "V01"),
        ("CS012", "19C", "2025-05-02", "Shropshire", "V02"),
    )
    add(
        "NS02",
        ("CS021", "19C", "2025-04-10", "Shropshire", "V03"),
        ("CS022", "8N", "2025-06-05", "Shropshire", "V03"),
    )
    add(
        "NS03",
        ("CS031", "105A", "2025-01-20", "Shropshire", "V04"),
        ("CS032", "105A", "2025-02-20", "Shropshire", "V04"),
        ("CS033", "105A", "2025-04-20", "Shropshire", "V05"),
        ("CS034", "8Q", "2025-06-20", "Shropshire", "V05"),
    )
    add(XSS_ID, ("CS041", "8Q", "2025-05-11", "Shropshire", "V06"))
    add(
        "NH01",
        ("CH011", "19C", "2025-02-03", "Herefordshire", "V11"),
        ("CH012", "8N", "2025-06-03", "Herefordshire", "V12"),
    )
    add("NT01", ("CT011", "8N", "2025-03-03", "Telford & Wrekin", "V21"))
    orders = [
        {
            "order_id": "O1",
            "nominal_id": "NS02",
            "order_type": "DVPO",
            "starts_on": "2025-05-01",
            "ends_on": "",
        }
    ]
    return {"crimes": crimes, "suspects": links, "orders": orders, "lpas": LPAS}


@dataclass
class Api:
    """One app over its own copy of the database, with helpers to mint tokens and call it."""

    app: Any
    client: TestClient
    store: Store
    path: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(
        self,
        user: str,
        *roles: str,
        lpas: list[str] | None = None,
        expires_days: int = 90,
        now: datetime | None = None,
    ) -> str:
        token, _info = mint_token(
            self.store,
            user=user,
            roles=list(roles),
            lpas=lpas,
            expires_days=expires_days,
            created_by="test-admin",
            now=now,
        )
        return token

    @staticmethod
    def auth(token: str | None, justification: str | None = None) -> dict[str, str]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if justification is not None:
            headers["X-Justification"] = justification
        return headers

    def get(self, url: str, token: str | None = None, justification: str | None = None, **kw: Any):
        return self.client.get(url, headers=self.auth(token, justification), **kw)

    def post(self, url: str, token: str | None = None, **kw: Any):
        return self.client.post(url, headers=self.auth(token), **kw)

    def audit_rows(self) -> list[dict[str, Any]]:
        frame = self.store.frame("SELECT * FROM audit_log ORDER BY seq")
        return frame.to_dicts()

    def last_audit(self) -> dict[str, Any]:
        return self.audit_rows()[-1]

    @property
    def jobs(self) -> Any:
        return self.app.state.harmrank.jobs

    def close(self) -> None:
        self.client.close()
        self.app.state.harmrank.close()
        self.store.close()


def review_config() -> dict[str, Any]:
    return {"review": {"required": True}}


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(api: Api, token: str, next_path: str = "/lists"):
    form = api.client.get("/login")
    assert form.status_code == 200
    nonce = CSRF.search(form.text).group(1)
    return api.client.post(
        "/login",
        data={"token": token, "csrf_token": nonce, "next": next_path},
        follow_redirects=False,
    )


def add_and_rescore(api: Api, crimes: list[tuple[str, str, str, str, str]], **config) -> None:
    """Ingest (crime_id, ho_code, recorded_on, lpa, nominal_id) rows into the API's database
    and score every month again (reads use the latest runs)."""
    store_from_rows(
        crimes=[
            {"crime_id": c, "ho_code": h, "recorded_on": d, "lpa": lpa, "domestic_abuse": "true"}
            for c, h, d, lpa, _ in crimes
        ],
        suspects=[{"crime_id": c, "nominal_id": n, "role": "suspect"} for c, *_, n in crimes],
        store=api.store,
    )
    backfill(api.store, "2025-01", LAST, config_from_dict(config), user="builder")
