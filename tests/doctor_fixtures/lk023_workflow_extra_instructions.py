from livekit.agents import beta
from livekit.agents.beta.workflows import GetEmailTask


async def collect() -> None:
    await GetEmailTask(extra_instructions="Spell it back.")  # expect: LK023
    await beta.workflows.GetAddressTask(extra_instructions="US only.")  # expect: LK023
    await beta.workflows.GetPhoneNumberTask(extra_instructions="Any country.")
