"""Loading channels from dotted paths: bad entries stop start-up with a clear message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.dispatch import get_dispatcher
from channels.base import ChannelConfigError
from tests.sample_channels import NeedsSettingChannel, RecordingChannel, path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("ConsoleChannel", "CHANNELS: 'ConsoleChannel' is not a dotted path"),
        ("channels.nowhere.Pager", "CHANNELS: cannot import 'channels.nowhere.Pager'"),
        ("channels.console.Pager", "CHANNELS: cannot import 'channels.console.Pager'"),
        ("tests.sample_channels.NotAChannel", "is not a subclass of channels.base.Channel"),
        ("tests.sample_channels.SLOW_SECONDS", "is not a subclass of channels.base.Channel"),
        ("channels.base.Channel", "does not set a class attribute 'name'"),
        (path(NeedsSettingChannel), "SAMPLE_API_KEY: required by the 'needs-setting' channel"),
    ],
)
def test_bad_channel_entries_stop_create_app(entry: str, message: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        create_app({"CHANNELS": [entry]}, env="testing")
    assert message in str(caught.value)


def test_two_channels_with_one_name_are_refused() -> None:
    with pytest.raises(ChannelConfigError, match="two channels are named 'recording'"):
        create_app({"CHANNELS": [path(RecordingChannel)] * 2}, env="testing")


def test_channel_setting_present_lets_it_start() -> None:
    app = create_app(
        {"CHANNELS": [path(NeedsSettingChannel)], "SAMPLE_API_KEY": "k"}, env="testing"
    )
    channel = get_dispatcher(app).channels["needs-setting"]
    assert isinstance(channel, NeedsSettingChannel)
    assert channel.api_key == "k"


def test_a_users_own_channel_anywhere_on_sys_path_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme_pager.py").write_text(
        textwrap.dedent(
            """
            from channels.base import Alert, Channel

            class PagerChannel(Channel):
                name = "pager"

                async def send(self, alert: Alert) -> None:
                    pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app = create_app({"CHANNELS": ["acme_pager.PagerChannel"]}, env="testing")
    assert list(get_dispatcher(app).channels) == ["pager"]
