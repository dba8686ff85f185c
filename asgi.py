"""The ASGI entry point: ``hypercorn -c hypercorn.toml asgi:app``."""

from app import create_app

app = create_app()
