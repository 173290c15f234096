"""The `overflight` command: thin Typer commands over the library."""
