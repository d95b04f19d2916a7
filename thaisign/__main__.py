"""``python -m thaisign``: the same as the ``thaisign`` command."""

from thaisign.cli import run

if __name__ == "__main__":
    run()
