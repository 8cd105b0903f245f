"""What a terminal sends that is not text never reaches the agent: `ESC[2J` typed before "three
churros" used to become the word "2jthree" and order one churro."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from concierge.console import strip_control

from .test_console import _cli

TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
PARAMS = st.text(st.sampled_from("0123456789;?"), max_size=6)
SEQUENCES = st.one_of(
    st.builds(lambda p, f: f"\x1b[{p}{f}", PARAMS, st.sampled_from("ABCDHJKmhlsu~@`")),  # CSI
    st.builds(lambda p, f: f"\x9b{p}{f}", PARAMS, st.sampled_from("ABJKm")),  # 8-bit CSI
    st.builds(lambda s, end: f"\x1b]0;{s}{end}", TEXT, st.sampled_from(["\x07", "\x1b\\"])),
    st.sampled_from(["\x1bOA", "\x1bOP", "\x1b7", "\x1b8", "\x1bc", "\x1b(B", "\x1b=", "\x1b>"]),
    st.sampled_from([chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x1B), *range(0x1C, 0x20)]]),
    st.sampled_from([chr(c) for c in range(0x7F, 0xA0) if c not in (0x9B, 0x9D)]),
)


@given(text=TEXT, inserted=st.lists(st.tuples(st.integers(0, 40), SEQUENCES), max_size=5))
def test_control_sequences_anywhere_leave_exactly_the_text(
    text: str, inserted: list[tuple[int, str]]
) -> None:
    at = {min(position, len(text)): sequence for position, sequence in inserted}
    typed = "".join(at.get(i, "") + c for i, c in enumerate(text)) + at.get(len(text), "")
    assert strip_control(typed) == text


@given(st.text())
def test_what_is_left_holds_no_control_character_and_stays_put(typed: str) -> None:
    cleaned = strip_control(typed)
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in cleaned)
    assert strip_control(cleaned) == cleaned


def test_a_clear_screen_typed_before_an_order_orders_what_was_said() -> None:
    proc = _cli(["console"], {}, stdin="\x1b[2Jthree churros\n\x1b[A\x1b[Bcart\n")
    assert proc.returncode == 0, proc.stderr
    assert "cart   Your cart: 3 × Churros" in proc.stdout, proc.stdout
    assert "2j" not in proc.stdout.lower()
