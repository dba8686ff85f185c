"""VAPID keys (RFC 8292): reading the configured P-256 key, the public key browsers subscribe
with, and fresh pairs for ``quart vapid-keys``."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.base import ChannelConfigError


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push keys are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from its raw 32 bytes in base64url, or from a PEM block."""
    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if len(raw) != 32:
                raise ValueError(f"{len(raw)} bytes, not 32")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as error:
        raise ChannelConfigError(f"VAPID_PRIVATE_KEY: not a P-256 private key ({error})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ChannelConfigError("VAPID_PRIVATE_KEY: must be a P-256 (prime256v1) key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key browsers need: the uncompressed public point, base64url."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def new_vapid_keys() -> tuple[str, str]:
    """A fresh (private, public) VAPID pair in the base64url forms Herald reads."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), public_key_b64(key)
