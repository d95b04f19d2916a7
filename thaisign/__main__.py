"""``python -m thaisign``: the same as the ``thaisign`` command."""

from thaisign.cli import main

if __name__ == "__main__":
    main()
