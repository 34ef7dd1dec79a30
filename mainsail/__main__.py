"""`python -m mainsail`: the same as the `mainsail` command."""

from .cli import main

main()
