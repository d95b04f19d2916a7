"""Replicas are stateless and share PostgreSQL: a SAD issued through one process is spent once,
whichever replica sees it first; concurrent attempts on two replicas yield exactly one signature."""

from __future__ import annotations

import base64
import hashlib
import threading

import pytest
from service_helpers import OFFICER_PINS
from support.csc_deployment import AUDIENCE, post


@pytest.fixture(scope="module")
def replica_b(infra, pin_agency):
    """A second, separate service process on the same folder, database and token."""
    replica = infra.serve(pin_agency.directory, workers=1, with_ca_key=False)
    yield replica
    replica.stop()


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _authorize(url, token, cred, hashes):
    body = {
        "credentialID": cred,
        "numSignatures": len(hashes),
        "hash": hashes,
        "PIN": OFFICER_PINS["somchai"],
    }
    r = post(url, "csc/v1/credentials/authorize", body, token)
    assert r.status_code == 200, r.text
    return r.json()["SAD"]


def _sign(url, token, cred, sad, hashes):
    body = {"credentialID": cred, "SAD": sad, "hash": hashes, "signAlgo": "1.2.840.10045.4.3.2"}
    return post(url, "csc/v1/signatures/signHash", body, token)


def _race(urls, call):
    """Start ``call(url)`` for every URL at the same instant; their status codes."""
    results: list[int] = []
    barrier = threading.Barrier(len(urls))

    def attempt(url: str) -> None:
        barrier.wait()
        results.append(call(url).status_code)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_processes_answer_from_one_database(pin_agency, replica_b):
    import requests

    a = requests.get(f"{pin_agency.url}/health", timeout=10).json()["replica"]
    b = requests.get(f"{replica_b.url}/health", timeout=10).json()["replica"]
    assert a != b


def test_a_sad_from_replica_a_is_spent_on_replica_b_and_refused_on_a(infra, pin_agency, replica_b):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    h = [_digest("across replicas")]
    sad = _authorize(pin_agency.url, token, cred, h)
    first = _sign(replica_b.url, token, cred, sad, h)  # replica B: key in the token, SAD from the shared DB
    assert first.status_code == 200, first.text
    again = _sign(pin_agency.url, token, cred, sad, h)
    assert again.status_code == 400 and "used already" in again.json()["error_description"]


def test_concurrent_use_of_one_sad_on_both_replicas_signs_once(infra, pin_agency, replica_b):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    for round_ in range(5):
        h = [_digest(f"race {round_}")]
        sad = _authorize(pin_agency.url, token, cred, h)
        results = _race(
            [pin_agency.url, replica_b.url] * 4, lambda url, sad=sad, h=h: _sign(url, token, cred, sad, h)
        )
        assert sorted(results) == [200] + [400] * 7, results


def test_a_replica_without_the_ca_key_sends_approvals_to_the_cli(infra, replica_b):
    officer = infra.op.login("wichai", AUDIENCE)
    from support.csc_deployment import officer_fields

    r = post(
        replica_b.url, "enroll/v1/requests", {"officer": officer_fields("wichai"), "PIN": "771930"}, officer
    )
    assert r.status_code in (201, 409), r.text
    pending = post(replica_b.url, "enroll/v1/requests", {}, officer)
    operator = infra.op.login("operator", AUDIENCE)
    import requests

    listed = requests.get(
        f"{replica_b.url}/enroll/v1/requests?status=pending",
        headers={"Authorization": f"Bearer {operator}"},
        timeout=10,
    )
    request_id = next(x["requestID"] for x in listed.json()["requests"] if x["subject"] == "wichai")
    r = post(replica_b.url, f"enroll/v1/requests/{request_id}/approve", {}, operator)
    assert r.status_code == 503 and "thaisign service approve" in r.json()["error_description"]
    del pending
