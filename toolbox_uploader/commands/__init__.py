"""One module per ``toolbox-uploader`` sub-command; each exposes ``register(subparsers)``."""
