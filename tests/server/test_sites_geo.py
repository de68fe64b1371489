"""Geofences without a database: shapely's reasons for unusable polygons, and point-to-fence distances checked
against distances computed by hand and on the ellipsoid (pyproj.Geod)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from server.sites.geo import MAX_POSITIONS, GeofenceError, geofence_check, parse_geofence
from tests.server.test_cases_support import SQUARE

GEOD = Geod(ellps="WGS84")
A, E2 = 6_378_137.0, 0.006_694_379_990_14  # WGS-84 semi-major axis and first eccentricity squared


def metres_per_degree_of_latitude(lat: float) -> float:
    """Meridian radius of curvature M = a(1-e²)/(1-e² sin²φ)^1.5, per degree."""
    return A * (1 - E2) / (1 - E2 * math.sin(math.radians(lat)) ** 2) ** 1.5 * math.pi / 180


def metres_per_degree_of_longitude(lat: float) -> float:
    """Parallel radius N cos φ, N = a / sqrt(1 - e² sin²φ), per degree."""
    return A / math.sqrt(1 - E2 * math.sin(math.radians(lat)) ** 2) * math.cos(math.radians(lat)) * math.pi / 180


def ring(*points: tuple[float, float]) -> list[list[float]]:
    return [[lon, lat] for lon, lat in (*points, points[0])]


def polygon(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


INVALID: list[tuple[str, Any, str]] = [
    ("self-intersection", polygon(ring((0, 0), (1, 1), (1, 0), (0, 1))), "Self-intersection[0.5 0.5]"),
    ("unclosed ring", polygon([[0, 0], [1, 0], [1, 1], [0, 1]]), "ring 0 is not closed"),
    ("too few points", polygon([[0, 0], [1, 0], [0, 0]]), "Too few points"),
    ("collinear", polygon(ring((0, 0), (1, 0), (2, 0))), "not a valid polygon: "),
    ("hole outside", polygon(ring((0, 0), (1, 0), (1, 1)), ring((5, 5), (6, 5), (6, 6))), "Hole lies outside shell"),
    ("point", {"type": "Point", "coordinates": [0, 0]}, "must be a GeoJSON Polygon or MultiPolygon, not 'Point'"),
    ("line", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "not 'LineString'"),
    ("feature", {"type": "Feature", "geometry": polygon(ring((0, 0), (1, 0), (1, 1)))}, "send its geometry"),
    ("no type", {"coordinates": []}, "not None"),
    ("not an object", [[0, 0], [1, 0]], "must be a GeoJSON object"),
    ("empty", polygon(), "the polygon is empty"),
    ("empty ring", polygon([]), "ring 0 has no positions"),
    ("flat coordinates", {"type": "Polygon", "coordinates": [0, 0, 1, 1]}, "coordinates[0] must be a list"),
    ("lat/lon swapped", polygon(ring((34, 112), (34.1, 112), (34.1, 112.1))), "is it [lon, lat]?"),
    ("text position", polygon([["0", "0"], [1, 0], [1, 1], ["0", "0"]]), "must hold finite numbers"),
    ("boolean", polygon(ring((True, 0), (1, 0), (1, 1))), "must hold finite numbers"),
    ("NaN", polygon(ring((math.nan, 0), (1, 0), (1, 1))), "must hold finite numbers"),
    ("4 numbers", polygon([[0, 0, 0, 0], [1, 0], [1, 1], [0, 0, 0, 0]]), "must be a position"),
    (
        "overlapping parts",
        {
            "type": "MultiPolygon",
            "coordinates": [[ring((0, 0), (2, 0), (2, 2), (0, 2))], [ring((1, 1), (3, 1), (3, 3), (1, 3))]],
        },
        "Self-intersection",
    ),
    (
        "too many",
        polygon(ring(*[(math.cos(t / 1e4), math.sin(t / 1e4)) for t in range(MAX_POSITIONS)])),
        f"at most {MAX_POSITIONS} positions",
    ),
]


@pytest.mark.parametrize(("geofence", "reason"), [(g, r) for _n, g, r in INVALID], ids=[n for n, _g, _r in INVALID])
def test_unusable_geofences_are_refused_with_the_reason(geofence: Any, reason: str) -> None:
    with pytest.raises(GeofenceError) as refused:
        parse_geofence(geofence)
    assert reason in refused.value.reason


def test_a_good_fence_is_kept_as_type_and_coordinates() -> None:
    fence = parse_geofence(SQUARE | {"bbox": [0, 0, 1, 1], "crs": "ignored"})
    assert fence.geojson == SQUARE
    lat, lon = fence.centroid
    assert (round(lat, 6), round(lon, 6)) == (34.005, 112.005)
    by_hand = 0.01 * metres_per_degree_of_latitude(34.005) * 0.01 * metres_per_degree_of_longitude(34.005)
    assert fence.area_m2 == pytest.approx(by_hand, rel=1e-3)
    donut = polygon(ring((0, 0), (3, 0), (3, 3), (0, 3)), ring((1, 1), (1, 2), (2, 2), (2, 1)))
    assert parse_geofence(donut).geometry.area == pytest.approx(8)
    assert parse_geofence(polygon([[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 0, 5]])).geometry.is_valid


def test_a_point_1_km_north_of_the_edge_is_1000_m_away() -> None:
    lon, lat, _ = GEOD.fwd(112.005, 34.01, 0, 1000)
    check = geofence_check(SQUARE, lat, lon)
    assert check["inside"] is False
    assert check["distance_m"] == pytest.approx(1000, abs=1)


def test_distances_computed_by_hand() -> None:
    north = geofence_check(SQUARE, 34.019, 112.005)  # 0.009° of latitude north of the top edge
    assert north["distance_m"] == pytest.approx(0.009 * metres_per_degree_of_latitude(34.0145), abs=1)
    east = geofence_check(SQUARE, 34.005, 112.02)  # 0.01° of longitude east of the east edge
    assert east["distance_m"] == pytest.approx(0.01 * metres_per_degree_of_longitude(34.005), abs=1)
    south = geofence_check(SQUARE, 33.99, 112.005)
    assert south["distance_m"] == pytest.approx(0.01 * metres_per_degree_of_latitude(33.995), abs=1)


def test_beyond_a_corner_the_distance_is_to_the_corner() -> None:
    lon, lat, _ = GEOD.fwd(112.0, 34.0, 225, 500)
    assert geofence_check(SQUARE, lat, lon)["distance_m"] == pytest.approx(500, abs=0.5)
    lon, lat, _ = GEOD.fwd(112.01, 34.01, 45, 100_000)
    assert geofence_check(SQUARE, lat, lon)["distance_m"] == pytest.approx(100_000, rel=1e-4)


def test_inside_and_on_the_boundary_is_zero() -> None:
    assert geofence_check(SQUARE, 34.005, 112.005) == {"inside": True, "distance_m": 0.0}
    assert geofence_check(SQUARE, 34.0, 112.005) == {"inside": True, "distance_m": 0.0}
    assert geofence_check(SQUARE, 34.01, 112.01) == {"inside": True, "distance_m": 0.0}


def test_a_point_in_a_hole_is_outside_and_measured_to_the_hole() -> None:
    outer = ring((112.0, 34.0), (112.1, 34.0), (112.1, 34.1), (112.0, 34.1))
    hole = ring((112.04, 34.04), (112.04, 34.06), (112.06, 34.06), (112.06, 34.04))
    check = geofence_check(polygon(outer, hole), 34.05, 112.05)
    assert check["inside"] is False
    assert check["distance_m"] == pytest.approx(0.01 * metres_per_degree_of_longitude(34.05), abs=1)


def test_a_multipolygon_measures_to_its_nearest_part() -> None:
    far = ring((113.0, 35.0), (113.01, 35.0), (113.01, 35.01), (113.0, 35.01))
    fence = {"type": "MultiPolygon", "coordinates": [[far], SQUARE["coordinates"]]}
    lon, lat, _ = GEOD.fwd(112.005, 34.01, 0, 250)
    assert geofence_check(fence, lat, lon)["distance_m"] == pytest.approx(250, abs=0.5)
    assert geofence_check(fence, 35.005, 113.005)["inside"] is True


@pytest.mark.parametrize(("lat", "lon"), [(91, 0), (0, 181), (math.nan, 0), (0, math.inf)])
def test_an_impossible_point_is_refused(lat: float, lon: float) -> None:
    with pytest.raises(GeofenceError):
        geofence_check(SQUARE, lat, lon)


def test_an_invalid_fence_is_refused_by_the_check_too() -> None:
    with pytest.raises(GeofenceError, match="Self-intersection"):
        geofence_check(INVALID[0][1], 0.5, 0.5)


@given(st.floats(33.9, 34.1), st.floats(111.9, 112.1))
def test_distance_is_zero_exactly_inside_and_at_most_the_distance_to_any_vertex(lat: float, lon: float) -> None:
    check = geofence_check(SQUARE, lat, lon)
    inside = 34.0 <= lat <= 34.01 and 112.0 <= lon <= 112.01
    assert check["inside"] is inside
    assert (check["distance_m"] == 0) is inside
    vertices = SQUARE["coordinates"][0]
    nearest_vertex = min(GEOD.inv(lon, lat, v_lon, v_lat)[2] for v_lon, v_lat in vertices)
    assert check["distance_m"] <= nearest_vertex + 1e-6
    if 112.0 <= lon <= 112.01 and not inside:  # straight north or south of an edge: along the meridian
        edge_lat = 34.01 if lat > 34.01 else 34.0
        assert check["distance_m"] == pytest.approx(GEOD.inv(lon, lat, lon, edge_lat)[2], abs=0.05)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(["type", "coordinates", "x"]), inner),
    max_leaves=30,
)
SHAPED = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Polygon", "MultiPolygon"]),
        "coordinates": st.lists(
            st.lists(st.lists(st.floats(-200, 200) | st.integers(-5, 5), max_size=3), max_size=6), max_size=3
        ),
    },
)


@given(JSON | SHAPED)
def test_any_json_is_a_geofence_or_a_reason_never_a_crash(value: Any) -> None:
    try:
        fence = parse_geofence(value)
    except GeofenceError as refused:
        reason = refused.reason
    else:
        reason = "accepted"
        assert fence.geometry.is_valid
        assert not fence.geometry.is_empty
    assert reason
