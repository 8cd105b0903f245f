from livekit.agents.beta.workflows import WarmTransferTask


async def transfer() -> None:
    await WarmTransferTask(target_phone_number="+15105550123")  # expect: LK022
