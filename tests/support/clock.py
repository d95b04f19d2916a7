"""Moving the clock of server processes on purpose (libfaketime), all by the same offset.

Every process of a test deployment (OpenID provider, CA/OCSP, TSA, signing service, ``oathtool``)
gets ``FAKETIME="+N"``: the same constant offset from the real clock, chosen so that the
deployment's clock reads :data:`support.pki.FIXED_TIME` when the test set-up starts. The
processes agree with each other to the microsecond, and the tests never depend on the wall clock;
under the CI's ``faketime -f +4y`` around pytest the explicit value replaces the inherited one.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

LIB_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


def faketime_library() -> str:
    found = next((p for p in LIB_CANDIDATES if Path(p).exists()), None)
    if found is None:
        import pytest

        pytest.fail("libfaketime is not installed (Debian package faketime): run scripts/setup.sh")
    return found


def real_epoch() -> float:
    """The real time, even when this process itself runs under libfaketime."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME") and k != "LD_PRELOAD"}
    out = subprocess.run(["date", "+%s.%N"], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


@dataclass(frozen=True)
class MovedClock:
    """A clock ``offset`` seconds from the real one, for child processes."""

    offset: int

    @classmethod
    def starting_at(cls, start: dt.datetime) -> MovedClock:
        return cls(round(start.timestamp() - real_epoch()))

    def env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        """An environment that runs a child process on this clock (the real one: no libfaketime)."""
        env = dict(os.environ if base is None else base)
        if self.offset == 0:
            for name in [k for k in env if k.startswith("FAKETIME")]:
                del env[name]
            env["LD_PRELOAD"] = " ".join(p for p in env.get("LD_PRELOAD", "").split() if "faketime" not in p)
            env.update(extra)
            return env
        lib = faketime_library()
        preload = [p for p in env.get("LD_PRELOAD", "").split() if "faketime" not in p]
        env["LD_PRELOAD"] = " ".join([lib, *preload])
        env["FAKETIME"] = f"{self.offset:+d}"
        env.pop("FAKETIME_DONT_FAKE_MONOTONIC", None)
        env.update(extra)
        return env

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(real_epoch() + self.offset, dt.UTC)
