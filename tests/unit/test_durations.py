"""Durations: ISO 8601 or seconds in, one canonical ISO 8601 spelling out."""

from datetime import timedelta

import pytest

from domain.durations import format_duration, parse_duration


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("P14D", timedelta(days=14)),
            ("PT72H", timedelta(hours=72)),
            ("PT1.5S", timedelta(seconds=1.5)),
            ("P1W", timedelta(weeks=1)),
            ("P1DT2H", timedelta(days=1, hours=2)),
            ("PT1H30M", timedelta(hours=1, minutes=30)),
            ("P1DT2H3M4.25S", timedelta(days=1, hours=2, minutes=3, seconds=4.25)),
            ("PT0,5S", timedelta(seconds=0.5)),
            ("PT1.5H", timedelta(minutes=90)),
            ("P0D", timedelta(0)),
            ("pt30m", timedelta(minutes=30)),
            ("  PT1S  ", timedelta(seconds=1)),
        ],
    )
    def test_iso_8601_durations_are_understood(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (30, timedelta(seconds=30)),
            (0.5, timedelta(milliseconds=500)),
            (0, timedelta(0)),
            ("30", timedelta(seconds=30)),
            ("0.5", timedelta(milliseconds=500)),
            (".25", timedelta(milliseconds=250)),
            ("259200", timedelta(days=3)),
        ],
    )
    def test_a_number_is_a_count_of_seconds(
        self, value: str | int | float, expected: timedelta
    ) -> None:
        assert parse_duration(value) == expected

    def test_precision_is_one_microsecond(self) -> None:
        assert parse_duration("PT0.0000015S") == timedelta(microseconds=2)
        assert parse_duration("0.000001") == timedelta(microseconds=1)

    @pytest.mark.parametrize("text", ["P1Y", "P2M", "P1Y2M3D", "P1MT1H"])
    def test_years_and_months_are_refused_as_ambiguous(self, text: str) -> None:
        with pytest.raises(ValueError, match="years and months are ambiguous"):
            parse_duration(text)

    @pytest.mark.parametrize("value", [-1, -0.5, "-30", "-P1D", "-PT1S"])
    def test_negative_durations_are_refused(self, value: str | int | float) -> None:
        with pytest.raises(ValueError, match="must not be negative"):
            parse_duration(value)

    @pytest.mark.parametrize("text", ["", "   "])
    def test_an_empty_duration_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="must not be empty"):
            parse_duration(text)

    @pytest.mark.parametrize(
        "text", ["P", "PT", "P1DT", "P1H", "PT1D", "PT1H30", "1e3", "three days", "P1.D"]
    )
    def test_malformed_durations_are_refused_with_examples(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"not an ISO 8601 duration .*examples"):
            parse_duration(text)

    @pytest.mark.parametrize("value", [float("nan"), float("inf")])
    def test_non_finite_numbers_are_refused(self, value: float) -> None:
        with pytest.raises(ValueError, match="finite"):
            parse_duration(value)

    @pytest.mark.parametrize("value", [True, None, [30]])
    def test_values_that_are_neither_text_nor_numbers_are_refused(self, value: object) -> None:
        with pytest.raises(ValueError, match="ISO 8601 string or a number of seconds"):
            parse_duration(value)  # type: ignore[arg-type]

    def test_a_duration_beyond_what_a_timedelta_holds_is_refused(self) -> None:
        with pytest.raises(ValueError, match="too long"):
            parse_duration("P9999999999D")


class TestFormatDuration:
    @pytest.mark.parametrize(
        ("td", "expected"),
        [
            (timedelta(days=14), "P14D"),
            (timedelta(hours=72), "P3D"),
            (timedelta(weeks=1), "P7D"),
            (timedelta(days=1, hours=2), "P1DT2H"),
            (timedelta(hours=1, minutes=30), "PT1H30M"),
            (timedelta(seconds=30), "PT30S"),
            (timedelta(milliseconds=500), "PT0.5S"),
            (timedelta(seconds=61, microseconds=1), "PT1M1.000001S"),
            (timedelta(days=2, seconds=5), "P2DT5S"),
            (timedelta(0), "PT0S"),
        ],
    )
    def test_each_duration_has_one_canonical_spelling(self, td: timedelta, expected: str) -> None:
        assert format_duration(td) == expected

    def test_a_negative_duration_cannot_be_formatted(self) -> None:
        with pytest.raises(ValueError, match="must not be negative"):
            format_duration(timedelta(seconds=-1))

    @pytest.mark.parametrize(
        "td",
        [
            timedelta(0),
            timedelta(microseconds=1),
            timedelta(days=14),
            timedelta(days=3, hours=23, minutes=59, seconds=59, microseconds=999_999),
            timedelta.max,
        ],
    )
    def test_formatting_then_parsing_gives_back_the_same_duration(self, td: timedelta) -> None:
        assert parse_duration(format_duration(td)) == td
