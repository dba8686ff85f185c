"""Links in notifications: the alert's page, and a signed link that acknowledges it without a
sign-in.

An acknowledge link carries the alert's id and uid, signed with ``SECRET_KEY`` under a salt
of its own, so it is good for that one alert and for nothing else Herald signs (the session
cookie uses another salt). It expires after ``ACK_LINK_LIFETIME``, and it does nothing once
the alert is resolved. Opening it (GET) only shows a button: mail scanners and link previews
fetch links, and must not acknowledge anything by doing so.
"""

from __future__ import annotations

from dataclasses import replace

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from quart import Quart, current_app

from app.models import as_notification
from channels.base import Alert

SALT = "herald.acknowledge-link"


class BadLinkError(ValueError):
    """The link was not made by this Herald, or was changed."""


class ExpiredLinkError(ValueError):
    """The link was made by this Herald but is too old."""


class AlertLinks:
    """Makes and reads the links of one Herald (its public URL and secret key)."""

    def __init__(self, public_url: str, secret_key: str, lifetime: int) -> None:
        self.public_url = public_url.rstrip("/")
        self.lifetime = lifetime
        self._signer = URLSafeTimedSerializer(secret_key, salt=SALT)

    def page(self, alert_id: int) -> str:
        """The alert's page on the dashboard."""
        return f"{self.public_url}/alerts/{alert_id}"

    def acknowledge(self, alert: Alert) -> str:
        """A link that acknowledges ``alert`` without a sign-in."""
        token = self._signer.dumps([alert.id, alert.uid])
        return f"{self.public_url}/ack/{token}"

    def read(self, token: str) -> tuple[int, str]:
        """The (alert id, uid) a link's token was made for."""
        try:
            alert_id, uid = self._signer.loads(token, max_age=self.lifetime)
        except SignatureExpired:
            raise ExpiredLinkError("This acknowledge link has expired.") from None
        except (BadSignature, ValueError, TypeError):
            raise BadLinkError("This is not a valid acknowledge link.") from None
        if not isinstance(alert_id, int) or not isinstance(uid, str):
            raise BadLinkError("This is not a valid acknowledge link.")
        return alert_id, uid

    def notification(self, alert: Alert, notification: str) -> Alert:
        """``alert`` as one notification goes out: its state, its page, and (while it
        fires) the acknowledge link."""
        sent = as_notification(alert, notification)
        ack_url = "" if sent.resolved else self.acknowledge(alert)
        return replace(sent, url=self.page(alert.id), ack_url=ack_url)


def get_links(app: Quart | None = None) -> AlertLinks:
    """The app's :class:`AlertLinks`."""
    links: AlertLinks = (app or current_app).extensions["herald.links"]
    return links


def init_app(app: Quart) -> AlertLinks:
    """Put the links of this Herald on ``app``."""
    links = AlertLinks(
        app.config["PUBLIC_URL"], app.config["SECRET_KEY"], int(app.config["ACK_LINK_LIFETIME"])
    )
    app.extensions["herald.links"] = links
    return links
