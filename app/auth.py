"""Who is asking: password and API-token checks, the signed-in user, ``login_required``."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import URLSafeTimedSerializer
from quart import Quart, current_app, flash, g, redirect, request, session, url_for
from quart.sessions import SecureCookieSessionInterface
from quart.typing import ResponseReturnValue
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import db_session, get_db
from app.models import ApiToken, User, utcnow
from app.tokencache import forget_tokens, get_token_cache

TOKEN_PREFIX = "hrld_"  # noqa: S105 - a prefix, not a secret
LOGIN_MESSAGE = "Please log in to continue."
SESSION_EXPIRED = "Your session has expired."
LAST_USED_PRECISION = timedelta(minutes=1)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

P = ParamSpec("P")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random API token, ``hrld_`` followed by 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The user with these credentials, or None; takes as long for unknown names."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    valid = verify_password(user.password_hash, password)
    return user if valid and user.disabled_at is None else None


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    """The owner of a live API token (and mark it used), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    record = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.token_hash, digest):
        return None
    now = utcnow()
    # A write per request would compete with the deliveries for the database: a minute's
    # precision is plenty for "last used".
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_PRECISION:
        record.last_used_at = now
        await session.commit()
    return record.user if record.user.disabled_at is None else None


def bearer_token() -> str | None:
    """The token of this request's ``Authorization: Bearer`` header, if it has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def cached_user_for_token(token: str) -> User | None:
    """:func:`user_for_token`, answered from the token cache when it can be (app/tokencache.py)."""

    async def look_up() -> User | None:
        # a session of its own: the request holds no connection while it waits on other work
        async with get_db().session() as session:
            return await user_for_token(session, token)

    return await get_token_cache().user(hash_token(token), look_up)


async def bearer_user() -> User | None:
    """The owner of this request's bearer token when it is live, else None; looked up once
    per request (the rate limiter asks before the API's gate does)."""
    if "bearer_user" not in g:
        g.bearer_user = None  # also the answer after a lookup that raised, when asked again
        token = bearer_token()
        if token is not None:
            g.bearer_user = await cached_user_for_token(token)
    user: User | None = g.bearer_user
    return user


USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD = 8


def check_new_user(username: str, password: str) -> dict[str, str]:
    """Problems with a new user's name or password, by field; empty when both are fine."""
    problems = {}
    if not USERNAME.fullmatch(username):
        problems["username"] = "Use 1 to 64 letters, digits, dots, dashes or underscores."
    if len(password) < MIN_PASSWORD:
        problems["password"] = f"Use at least {MIN_PASSWORD} characters."
    return problems


async def create_user(
    session: AsyncSession, username: str, password: str, *, is_admin: bool = False
) -> User:
    """Add a user with a hashed password and commit."""
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    await session.commit()
    return user


async def create_token(session: AsyncSession, user: User, label: str = "") -> str:
    """Store a new token for ``user`` and return its plaintext, which is never stored."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, label=label, token_hash=hash_token(token)))
    await session.commit()
    return token


def start_session(user: User) -> None:
    """Sign ``user`` in on a brand-new session (no fixation) that ends after SESSION_LIFETIME
    or when the user's session generation moves on, whichever comes first."""
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["generation"] = user.session_generation
    session["expires_at"] = int(time.time()) + int(current_app.config["SESSION_LIFETIME"])


async def end_sessions(db: AsyncSession, user: User) -> None:
    """End every session ``user`` has anywhere (the cookies stay, but no longer count)."""
    await db.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
        .execution_options(synchronize_session=False)
    )
    await db.commit()
    await db.refresh(user)


async def set_password(db: AsyncSession, user: User, password: str) -> None:
    """Give ``user`` a new password; every session signed in with the old one ends."""
    user.password_hash = hash_password(password)
    await end_sessions(db, user)


async def disable_user(db: AsyncSession, user: User) -> None:
    """Stop ``user``: no sign-in, no session, no API token works any more."""
    user.disabled_at = user.disabled_at or utcnow()
    await end_sessions(db, user)
    forget_tokens()


async def all_users(db: AsyncSession) -> list[User]:
    """Every user, by name."""
    return list(await db.scalars(select(User).order_by(User.username)))


async def all_tokens(db: AsyncSession) -> list[ApiToken]:
    """Every API token, oldest first (revoked ones too)."""
    return list(await db.scalars(select(ApiToken).order_by(ApiToken.id)))


async def user_named(db: AsyncSession, username: str) -> User | None:
    """The user called ``username``, if there is one."""
    user: User | None = await db.scalar(select(User).where(User.username == username))
    return user


async def revoke_token(db: AsyncSession, token_id: int) -> ApiToken | None:
    """Revoke the token (it stops working at once); None when there is no such token."""
    record = await db.get(ApiToken, token_id)
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        await db.commit()
        forget_tokens()
    return record


def session_is_current(user: User | None) -> bool:
    """Whether this request's session belongs to ``user`` as it is now: enabled, and signed
    in since the user's sessions were last ended."""
    return (
        user is not None
        and user.disabled_at is None
        and session.get("generation") == user.session_generation
    )


async def current_user() -> User | None:
    """The signed-in user of this request (session cookie or bearer token), cached in ``g``."""
    if "user" not in g:
        g.user = None
        user_id, expires_at = session.get("user_id"), session.get("expires_at")
        if isinstance(user_id, int):
            if isinstance(expires_at, int) and expires_at > time.time():
                found = await db_session().get(User, user_id)
                g.user = found if session_is_current(found) else None
            else:
                session.clear()
                g.session_expired = True
    user: User | None = g.user
    return user


async def redirect_to_login() -> ResponseReturnValue:
    """Flash the login prompt and redirect to the login page, coming back here after."""
    await flash(SESSION_EXPIRED if g.get("session_expired") else LOGIN_MESSAGE, "security")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("web.login", next=target))


async def login_gate() -> ResponseReturnValue | None:
    """The login gate: the way to the login page for an anonymous visitor, else None. The
    dashboard's blueprint runs it before every page; :func:`login_required` before one view."""
    if await current_user() is None:
        return await redirect_to_login()
    return None


def login_required(
    view: Callable[P, Awaitable[ResponseReturnValue]],
) -> Callable[P, Awaitable[ResponseReturnValue]]:
    """Send anonymous visitors of ``view`` to the login page, then back."""

    @functools.wraps(view)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        return await login_gate() or await view(*args, **kwargs)

    return wrapped


class SessionCookies(SecureCookieSessionInterface):
    """Quart's signed session cookies, with the signer built once per set of keys rather
    than for every request."""

    def __init__(self) -> None:
        self._signer: tuple[object, URLSafeTimedSerializer | None] = ((), None)

    def get_signing_serializer(self, app: Quart) -> URLSafeTimedSerializer | None:
        """The signer for the app's ``SECRET_KEY`` (and ``SECRET_KEY_FALLBACKS``)."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]


def init_app(app: Quart) -> None:
    """Let the signed cookie outlive SESSION_LIFETIME by a day, so that an expired session is
    still readable and the user can be told it expired rather than simply asked to log in."""
    app.permanent_session_lifetime = timedelta(seconds=app.config["SESSION_LIFETIME"] + 86400)
    app.session_interface = SessionCookies()
