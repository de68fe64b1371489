"""GNSS track and fix assembly: interpolation, fix age, gap/age boundaries, jumps, antimeridian, dates from NMEA."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from device_gateway.gps import Fix, FixAssembler, GnssTrack, Position, distance_m, nearest_instant
from device_gateway.protocols.nmea import Sentence, checksum, parse_sentence
from evidence.custody import PLACE_SOURCES

T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fix(
    seconds: float,
    lat: float = 30.0,
    lon: float = 120.0,
    *,
    alt: float | None = 10.0,
    hdop: float | None = 1.0,
    quality: int | None = 1,
    source: str = "gateway-gnss-track",
) -> Fix:
    return Fix(at=at(seconds), lat=lat, lon=lon, alt=alt, quality=quality, satellites=9, hdop=hdop, source=source)


def track(
    *fixes: Fix, max_fix_age: timedelta = timedelta(seconds=30), max_gap: timedelta = timedelta(seconds=120)
) -> GnssTrack:
    result = GnssTrack(max_fix_age=max_fix_age, max_gap=max_gap)
    for f in fixes:
        result.add(f)
    return result


def sentence(body: str) -> Sentence:
    parsed = parse_sentence(f"${body}*{checksum(body.encode()):02X}")
    assert parsed is not None
    return parsed


def gga(tod: str, quality: int = 1, lat: str = "3000.0000", alt: str = "12.5") -> Sentence:
    return sentence(f"GNGGA,{tod},{lat},N,12000.0000,E,{quality},10,0.9,{alt},M,7.0,M,,")


def rmc(tod: str, ddmmyy: str, status: str = "A", lat: str = "3000.0000", mode: str = "A") -> Sentence:
    return sentence(f"GNRMC,{tod},{status},{lat},N,12000.0000,E,0.1,,{ddmmyy},,,{mode}")


# --- GnssTrack -----------------------------------------------------------------------------------------------------


def test_empty_track_answers_none() -> None:
    assert GnssTrack().position_at(T0) is None
    assert len(GnssTrack()) == 0


def test_exact_fix() -> None:
    p = track(fix(0), fix(10, 30.001)).position_at(at(10))
    assert p == Position(30.001, 120.0, 10.0, 5.0, "gateway-gnss-track", 0.0, 1, False)


def test_midpoint_interpolation_is_exact() -> None:
    p = track(fix(0, 30.0, 120.0, alt=10.0), fix(10, 30.0002, 120.0004, alt=20.0)).position_at(at(5))
    assert p is not None
    assert p.interpolated is True
    assert p.lat == pytest.approx(30.0001, abs=1e-12)
    assert p.lon == pytest.approx(120.0002, abs=1e-12)
    assert p.alt == pytest.approx(15.0, abs=1e-12)
    assert p.fix_age_s == 5.0


def test_interpolation_fix_age_is_to_the_nearer_fix() -> None:
    t = track(fix(0, 30.0), fix(10, 30.0010))
    early, late = t.position_at(at(2.5)), t.position_at(at(9))
    assert early is not None
    assert late is not None
    assert (early.fix_age_s, late.fix_age_s) == (2.5, 1.0)
    assert early.lat == pytest.approx(30.00025, abs=1e-12)
    assert late.lat == pytest.approx(30.0009, abs=1e-12)


def test_interpolation_keeps_worse_accuracy_and_drops_unknown_altitude() -> None:
    p = track(fix(0, hdop=0.8), fix(10, 30.0001, hdop=2.0, alt=None)).position_at(at(4))
    assert p is not None
    assert p.accuracy_m == pytest.approx(10.0)
    assert p.alt is None


def test_max_gap_boundary() -> None:
    gap = timedelta(seconds=120)
    inside = track(fix(0), fix(120, 30.001), max_gap=gap).position_at(at(60))
    outside = track(fix(0), fix(120.001, 30.001), max_gap=gap).position_at(at(60))
    assert inside is not None
    assert inside.interpolated is True
    assert inside.fix_age_s == 60.0
    assert outside is None  # too far from either fix: no place is invented


def test_beyond_max_gap_falls_back_to_nearest_fix() -> None:
    p = track(fix(0), fix(300, 31.0)).position_at(at(20))
    assert p is not None
    assert (p.lat, p.interpolated, p.fix_age_s) == (30.0, False, 20.0)


@pytest.mark.parametrize("side", [1, -1])
def test_max_fix_age_boundary(side: int) -> None:
    t = track(fix(0), max_fix_age=timedelta(seconds=30))
    p = t.position_at(at(30 * side))
    assert p is not None
    assert (p.fix_age_s, p.interpolated) == (30.0, False)
    assert t.position_at(at(30.001 * side)) is None


def test_jump_is_not_interpolated() -> None:
    # 10 km in 10 s is 1000 m/s: a jump (multipath, a reset), so only the nearer fix is used.
    t = track(fix(0, 30.0), fix(10, 30.09))
    before, tie, after = t.position_at(at(2)), t.position_at(at(5)), t.position_at(at(8))
    assert before is not None
    assert tie is not None
    assert after is not None
    assert (before.lat, before.interpolated, before.fix_age_s) == (30.0, False, 2.0)
    assert (tie.lat, tie.fix_age_s) == (30.0, 5.0)  # a tie goes to the earlier fix
    assert (after.lat, after.fix_age_s) == (30.09, 2.0)


def test_speed_threshold_boundary() -> None:
    a, b = fix(0, 30.0), fix(10, 30.0089)
    speed = distance_m(a, b) / 10
    assert 98 < speed < 100
    below = track(a, b, max_gap=timedelta(seconds=120)).position_at(at(5))
    slower_limit = GnssTrack(max_speed_mps=speed - 0.1)
    slower_limit.add(a)
    slower_limit.add(b)
    above = slower_limit.position_at(at(5))
    assert below is not None
    assert above is not None
    assert below.interpolated is True
    assert above.interpolated is False


def test_antimeridian_interpolates_the_short_way() -> None:
    t = track(fix(0, 10.0, 179.9998), fix(10, 10.0, -179.9998))
    quarter, three_quarters = t.position_at(at(2.5)), t.position_at(at(7.5))
    assert quarter is not None
    assert three_quarters is not None
    assert quarter.interpolated is True
    assert quarter.lon == pytest.approx(179.9999, abs=1e-9)
    assert three_quarters.lon == pytest.approx(-179.9999, abs=1e-9)
    assert distance_m(fix(0, 10.0, 179.9998), fix(0, 10.0, -179.9998)) < 50


def test_sources_are_not_mixed_in_an_interpolation() -> None:
    p = track(fix(0), fix(10, 30.0001, source="device-gnss")).position_at(at(7))
    assert p is not None
    assert (p.interpolated, p.source, p.fix_age_s) == (False, "device-gnss", 3.0)


def test_out_of_order_adds_and_duplicates() -> None:
    fixes = [fix(s, 30.0 + s * 1e-5) for s in range(200)]
    shuffled = fixes[:]
    random.Random(7).shuffle(shuffled)
    t = track(*shuffled)
    t.add(fix(50, 45.0))  # same instant as an existing fix: ignored
    assert len(t) == 200
    assert t.fixes_between(at(0), at(199)) == fixes
    assert t.fixes_between(at(10), at(12)) == fixes[10:13]
    p = t.position_at(at(50.5))
    assert p is not None
    assert p.lat == pytest.approx(30.0 + 50.5e-5, abs=1e-12)


def test_many_fixes() -> None:
    t = GnssTrack()
    for s in range(30_000):
        t.add(fix(s, 30.0 + s * 1e-6))
    for s in random.Random(1).sample(range(29_999), 2000):
        p = t.position_at(at(s + 0.5))
        assert p is not None
        assert p.lat == pytest.approx(30.0 + (s + 0.5) * 1e-6, abs=1e-9)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 5, 1, 8, 30)
    with pytest.raises(ValueError, match="aware"):
        GnssTrack().position_at(naive)
    with pytest.raises(ValueError, match="aware"):
        GnssTrack().fixes_between(naive, T0)
    with pytest.raises(ValueError, match="aware"):
        Fix(at=naive, lat=0, lon=0, alt=None, quality=1, satellites=None, hdop=None, source="device-gnss")
    with pytest.raises(ValueError, match="aware"):
        FixAssembler().add(gga("083000"), received_at=naive)


def test_other_zones_are_normalized_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    f = Fix(
        at=T0.astimezone(beijing), lat=1, lon=2, alt=None, quality=1, satellites=None, hdop=None, source="device-gnss"
    )
    assert f.at.tzinfo is UTC
    assert track(f).position_at(T0.astimezone(beijing)) is not None


def test_accuracy_from_hdop() -> None:
    assert fix(0, hdop=1.2).accuracy_m == pytest.approx(6.0)
    assert fix(0, hdop=None).accuracy_m is None
    assert fix(0, hdop=1.2, quality=6).accuracy_m is None  # dead reckoning: HDOP does not describe its error


def test_position_json_is_a_custody_place() -> None:
    p = track(fix(0), fix(10, 30.0001)).position_at(at(3))
    assert p is not None
    out = p.to_json()
    assert out == {
        "lat": 30.00003,
        "lon": 120.0,
        "alt": 10.0,
        "accuracy_m": 5.0,
        "source": "gateway-gnss-track",
        "fix_age_s": 3.0,
        "quality": 1,
        "interpolated": True,
    }
    assert out["source"] in PLACE_SOURCES


def test_bad_fix_values_are_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        fix(0, source="exif-gps")
    with pytest.raises(ValueError, match="range"):
        fix(0, lat=91.0)


# --- FixAssembler --------------------------------------------------------------------------------------------------


def test_gga_and_rmc_of_one_second_merge() -> None:
    asm = FixAssembler()
    received = datetime(2024, 5, 1, 8, 30, 0, 400000, tzinfo=UTC)
    assert asm.add(rmc("083000.00", "010524"), received_at=received) is None
    merged = asm.add(gga("083000.00"), received_at=received)
    assert merged == Fix(
        at=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        lat=30.0,
        lon=120.0,
        alt=12.5,
        quality=1,
        satellites=10,
        hdop=0.9,
        source="gateway-gnss-track",
    )
    assert asm.add(gga("083000.00", alt="99.0"), received_at=received) is None  # epoch already emitted
    assert asm.flush() is None


def test_gga_only_epochs_are_emitted_when_the_next_starts() -> None:
    asm = FixAssembler(source="device-gnss")
    received = T0
    assert asm.add(gga("083000"), received_at=received) is None
    first = asm.add(gga("083001"), received_at=received + timedelta(seconds=1))
    last = asm.flush()
    assert first is not None
    assert last is not None
    assert (first.at, last.at, first.source) == (at(0), at(1), "device-gnss")
    assert asm.flush() is None


def test_gga_date_from_gateway_clock_across_midnight() -> None:
    asm = FixAssembler()
    asm.add(gga("235959.50"), received_at=datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC))
    before_midnight = asm.flush()
    asm.add(gga("000001"), received_at=datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC))
    after_midnight = asm.flush()
    assert before_midnight is not None
    assert after_midnight is not None
    assert before_midnight.at == datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)
    assert after_midnight.at == datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC)


def test_gga_date_from_latest_rmc_beats_a_wrong_gateway_clock() -> None:
    asm = FixAssembler()
    clock = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)  # the laptop's clock is wrong
    asm.add(rmc("235959", "191194"), received_at=clock)
    asm.add(gga("235959"), received_at=clock)  # completes the 23:59:59 epoch
    asm.add(gga("000000"), received_at=clock + timedelta(seconds=1))
    rolled = asm.flush()
    assert rolled is not None
    assert rolled.at == datetime(1994, 11, 20, 0, 0, tzinfo=UTC)


def test_invalid_rmc_does_not_anchor_dates() -> None:
    asm = FixAssembler()
    clock = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    asm.add(rmc("083000", "060180", status="V"), received_at=clock)  # a receiver's RTC guess before a fix
    asm.add(gga("083001"), received_at=clock + timedelta(seconds=1))
    f = asm.flush()
    assert f is not None
    assert f.at == at(1)


@pytest.mark.parametrize(
    "sentences",
    [
        [gga("083000", quality=0), rmc("083000", "010524")],  # GGA says no fix: the epoch gives no place
        [gga("083000"), rmc("083000", "010524", status="V")],
        [gga("083000", quality=8)],  # simulation
        [gga("083000", quality=7)],  # manual input
        [rmc("083000", "010524", mode="M")],
        [rmc("083000", "010524", mode="S")],
        [sentence("GPGGA,,3000.0,N,12000.0,E,1,10,0.9,12.5,M,,M,,")],  # no time
    ],
)
def test_epochs_that_give_no_fix(sentences: list[Sentence]) -> None:
    asm = FixAssembler()
    results = [asm.add(s, received_at=T0) for s in sentences] + [asm.flush()]
    assert results == [None] * (len(sentences) + 1)


def test_rmc_only_fix_and_dead_reckoning() -> None:
    asm = FixAssembler()
    asm.add(rmc("083000", "010524", mode="E"), received_at=T0)
    f = asm.flush()
    assert f is not None
    assert (f.at, f.alt, f.quality, f.hdop) == (T0, None, None, None)


def test_nearest_instant() -> None:
    tod = datetime(2024, 1, 1, 23, 0, tzinfo=UTC).timetz().replace(tzinfo=None)
    assert nearest_instant(tod, datetime(2024, 1, 2, 1, 0, tzinfo=UTC)) == datetime(2024, 1, 1, 23, 0, tzinfo=UTC)
    assert nearest_instant(tod, datetime(2024, 1, 2, 20, 0, tzinfo=UTC)) == datetime(2024, 1, 2, 23, 0, tzinfo=UTC)


def test_nmea_to_track_end_to_end() -> None:
    asm, t = FixAssembler(), GnssTrack()
    for second, lat in ((0, "3000.0000"), (10, "3000.0120")):
        tod = f"0830{second:02d}.00"
        for s in (gga(tod, lat=lat), rmc(tod, "010524", lat=lat)):
            made = asm.add(s, received_at=at(second))
            if made is not None:
                t.add(made)
    p = t.position_at(at(5))
    assert len(t) == 2
    assert p is not None
    assert p.lat == pytest.approx(30.0001, abs=1e-12)
    assert (p.interpolated, p.alt, p.accuracy_m) == (True, 12.5, pytest.approx(4.5))
