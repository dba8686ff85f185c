"""The baseline: Quart's hello world, served by the same hypercorn as Herald."""

from quart import Quart

app = Quart(__name__)


@app.get("/")
async def hello() -> str:
    """As little as a Quart view can do."""
    return "Hello, world!"
