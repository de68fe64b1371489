"""sites: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.cases.schemas import NO_NUL

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)]
Description = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]

GEOFENCE_EXAMPLE = {
    "type": "Polygon",
    "coordinates": [[[112.40, 34.60], [112.41, 34.60], [112.41, 34.61], [112.40, 34.61], [112.40, 34.60]]],
}


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    address: Address | None = None
    description: Description | None = None
    geofence: dict[str, Any] = Field(
        description="GeoJSON Polygon or MultiPolygon, WGS-84 [longitude, latitude], rings closed",
        examples=[GEOFENCE_EXAMPLE],
    )


class Centroid(BaseModel):
    lat: float
    lon: float


class SiteOut(BaseModel):
    id: int
    case: int = Field(description="the case's id")
    name: str
    address: str | None
    description: str | None
    geofence: dict[str, Any]
    centroid: Centroid
    area_m2: float = Field(description="geodesic area on the WGS-84 ellipsoid")
    created_at: datetime
    created_by: str = Field(description="username of the creator")
