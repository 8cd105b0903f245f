"""Who the user is (issue #10.9): validated job metadata, no shared default identity."""

from __future__ import annotations

import json

import pytest
from livekit.agents.testing import fake_job_context

from concierge.server import user_id_from_job


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (json.dumps({"user_id": "alex"}), "alex"),
        (json.dumps({"user_id": "  alex  "}), "alex"),
        (json.dumps(["alex"]), None),  # JSON, but not an object: crashed the entrypoint before
        (json.dumps("alex"), None),
        (json.dumps(42), None),
        (json.dumps({"user_id": 42}), None),
        (json.dumps({"user_id": "x" * 500}), None),
        (json.dumps({"user_id": "a\nb"}), None),
        ("{not json", None),
        ("", None),
    ],
)
async def test_metadata_is_validated_and_anonymous_callers_are_not_demo(
    metadata: str, expected: str | None
) -> None:
    with fake_job_context(job_metadata=metadata, job_id="job-123") as ctx:
        user = user_id_from_job(ctx)
    assert user == (expected or "guest-job-123")
    assert user != "demo"


async def test_two_anonymous_jobs_get_two_identities() -> None:
    seen = set()
    for job_id in ("job-a", "job-b"):
        with fake_job_context(job_metadata="", job_id=job_id) as ctx:
            seen.add(user_id_from_job(ctx))
    assert len(seen) == 2


def test_the_participant_who_joined_is_the_fallback() -> None:
    from types import SimpleNamespace

    from livekit.protocol import agent, models

    job = agent.Job(id="job-p", metadata="")
    room = SimpleNamespace(remote_participants={"x": SimpleNamespace(identity="caller-7")})
    assert user_id_from_job(SimpleNamespace(job=job, room=room)) == "caller-7"  # type: ignore[arg-type]
    job.participant.CopyFrom(models.ParticipantInfo(identity="dispatched-9"))
    empty = SimpleNamespace(remote_participants={})
    assert user_id_from_job(SimpleNamespace(job=job, room=empty)) == "dispatched-9"  # type: ignore[arg-type]
