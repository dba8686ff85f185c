"""Turning the ``CHANNELS`` setting (dotted class paths) into ready channel instances."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from channels.base import Channel, ChannelConfigError


def load_channel_class(path: str) -> type[Channel]:
    """Import ``package.module.ClassName`` and check that it is a :class:`Channel` subclass."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ChannelConfigError(f"CHANNELS: {path!r} is not a dotted path like 'module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ChannelConfigError(f"CHANNELS: cannot import {path!r} ({error})") from error
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ChannelConfigError(
            f"CHANNELS: cannot import {path!r} ({module_name!r} has no {class_name!r})"
        )
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise ChannelConfigError(f"CHANNELS: {path!r} is not a subclass of channels.base.Channel")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise ChannelConfigError(f"CHANNELS: {path!r} does not set a class attribute 'name'")
    return cls


def build_channels(config: Mapping[str, Any]) -> dict[str, Channel]:
    """Instantiate every class listed in ``config["CHANNELS"]``, keyed by channel name."""
    channels: dict[str, Channel] = {}
    for path in config["CHANNELS"]:
        cls = load_channel_class(path)
        if cls.name in channels:
            raise ChannelConfigError(f"CHANNELS: two channels are named {cls.name!r}")
        try:
            channels[cls.name] = cls(config)
        except ChannelConfigError:
            raise
        except Exception as error:
            raise ChannelConfigError(f"CHANNELS: {path!r} failed to start: {error}") from error
    return channels
