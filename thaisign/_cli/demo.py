"""``thaisign demo``: make a demo CA and officer and say what was made."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--dir",
    "directory",
    default="thaisign-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo (re-running reuses it).",
)
def demo(directory: Path) -> None:
    """Create a demo agency CA and an officer (นายสมชาย ใจดี) with a PKCS#12 key.

    \b
    The passphrases are random and written beside the files (mode 0600):
    it is a demo, never a CA to trust.

    \b
    Example:
      thaisign demo --dir ./thaisign-demo
      thaisign ca list ./thaisign-demo/ca
    """
    from thaisign.demo import DEMO_AGENCY, DEMO_OFFICER, make_demo

    made = make_demo(directory)
    verb = "created" if made.created_ca else "reused"
    click.echo(f"demo CA {verb}: {DEMO_AGENCY} in {made.ca_dir}")
    click.echo(f"  CA passphrase (demo only!) in {made.ca_passphrase_file}")
    verb = "issued" if made.created_officer else "reused"
    click.echo(
        f"officer {verb}: {DEMO_OFFICER.name_th}, {DEMO_OFFICER.position} (serial {made.officer_serial})"
    )
    click.echo(f"  key + certificate: {made.officer_p12}")
    click.echo(f"  certificate: {made.officer_cert}")
    click.echo(f"  PKCS#12 passphrase (demo only!) in {made.officer_passphrase_file}")
    click.echo("next:")
    click.echo(f"  thaisign ca list {made.ca_dir}")
    click.echo(
        f"  THAISIGN_CA_PASSPHRASE=$(cat {made.ca_passphrase_file}) thaisign ca crl {made.ca_dir} -o demo.crl"
    )
