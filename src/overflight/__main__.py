"""`python -m overflight` runs the command line tool."""

from overflight.cli import main

main()


__all__: list[str] = []
