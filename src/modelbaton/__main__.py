"""`python -m modelbaton` is the `baton` command."""

from .cli.main import main

main()
