from mainsail.tasks import ns  # noqa: F401  (the Mainsail collection, for `inv`)
