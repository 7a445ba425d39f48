"""The ticket's attribute budget (docs/worker.md): the cheap bound that spares the exact size."""

from hypothesis import given
from hypothesis import strategies as st

from service.core.ticket import _attributes_size, _most_bytes

values = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(st.dictionaries(st.text(), values, max_size=8))
def test_the_bound_is_never_below_the_exact_size(attributes: dict[str, object]) -> None:
    assert _most_bytes(attributes) >= _attributes_size(attributes)  # type: ignore[arg-type]


def test_control_characters_take_six_bytes_each_and_stay_within_the_bound() -> None:
    attributes = {"\x1f" * 10: "\x00" * 100, "k": -1.2345678901234567e-308}
    assert _attributes_size(attributes) == 2 + 62 + 1 + 602 + 1 + 3 + 1 + 24
    assert _most_bytes(attributes) >= _attributes_size(attributes)
