"""LK041: rtc.ChatManager."""

from livekit import rtc


def chat(room: rtc.Room) -> None:
    manager = rtc.ChatManager(room)  # expect: LK041
    manager.on("message_received", print)
