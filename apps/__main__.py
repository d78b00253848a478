"""``python -m apps`` serves the whole suite; see ``apps.server``."""

from .server import main

main()
