"""One module per `cli.py` subcommand."""
