"""LK038: the 0.x chat context API."""

from livekit.agents import llm

initial = llm.ChatContext().append(role="system", text="You are helpful.")  # expect: LK038
history = llm.ChatContext(messages=[])  # expect: LK038
history.append(role="user", text="hi")  # expect: LK038
greeting = llm.ChatMessage.create(text="Hello", role="assistant")  # expect: LK038
picture = llm.ChatImage(image="https://example.com/a.png")  # expect: LK038
items: list[str] = []
items.append("a list's own append is not the chat context's")
