"""`python -m overflight` runs the command line tool."""

from overflight.cli.main import main

main()
