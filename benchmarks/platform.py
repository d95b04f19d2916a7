"""The platform at a nation's scale on this machine: 10,000 agency CAs and 1,000,000 officer
certificates in one PostgreSQL, loaded from zero; issuance spread over agencies; one agency's CRL
made anew; OCSP from two status replicas under wrk; the figures — written per CPU-second, with the
load average beside them. The body is benchmarks/_platform_bench.py; run::

    python benchmarks/platform.py                       # the full size (about half an hour)
    python benchmarks/platform.py --agencies 200 --certificates 20000 --duration 5   # a quick look

This file only keeps the benchmarks folder off sys.path: it is named like the standard library's
``platform`` module, which the libraries below import.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
# behind the standard library, so that "import platform" anywhere finds the real one
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _here] + [_here]

if __name__ == "__main__":
    import _platform_bench

    _platform_bench.main()
