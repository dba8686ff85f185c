"""Herald's delivery channels; each module holds one, ``base`` holds the contract."""

from channels.base import Alert, Channel, ChannelConfigError, ChannelError, DeliveryError

__all__ = ["Alert", "Channel", "ChannelConfigError", "ChannelError", "DeliveryError"]
