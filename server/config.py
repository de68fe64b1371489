"""The server's settings: one object, from arguments, then ``FIELDPROOF_SERVER_*`` environment variables.

The data folder holds, by default, the SQLite database (``server.sqlite3``), the blob store (``blobs/``), partial
uploads (``uploads/``) and the server's signing key (``keys/server.key``, mode 0600, made on first start). With
``database_url`` pointing at PostgreSQL, the database lives there instead; blobs and the key stay in the data
folder, which every worker must share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GIB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDPROOF_SERVER_", extra="forbid")

    data_dir: Path = Path("fieldproof-server")
    database_url: str | None = None
    log_name: str = Field(default="fieldproof.local/log", description="the log's origin line in checkpoints")
    key_name: str = "fieldproof-server"
    max_upload_bytes: int = 16 * GIB
    upload_expiry: timedelta = timedelta(hours=24)
    token_lifetime: timedelta = timedelta(hours=12)
    public_url: str = "http://127.0.0.1:8000"
    # Webhooks: each server process runs a background thread that, every interval, sends the deliveries that are
    # due and announces approaching and overdue deadlines (off: another process must run it).
    webhook_worker: bool = True
    webhook_interval: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))
    # The field app's optional map tiles (none by default: the map is drawn from the data alone). A URL template
    # with {z}, {x}, {y}; its coordinate system: "gcj02" for the tiles of Chinese map providers (WGS-84 positions
    # are then shifted to GCJ-02 when drawn), "wgs84" otherwise.
    tile_url: str | None = Field(default=None, pattern=r"^https://[^/\s]+/\S*\{z\}\S*$")
    tile_crs: str = Field(default="gcj02", pattern="^(gcj02|wgs84)$")
    tile_attribution: str = Field(default="", max_length=200)

    @field_validator("log_name")
    @classmethod
    def _log_name_is_one_line(cls, value: str) -> str:
        if not value or "\n" in value or "+" in value:
            raise ValueError("log_name must be one line without '+' (it is the checkpoint's origin)")
        return value

    @property
    def tile_origin(self) -> str | None:
        """``https://host`` of the tile URL (for the field app's content security policy), or None."""
        if self.tile_url is None:
            return None
        return "/".join(self.tile_url.split("/")[:3])

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'server.sqlite3'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "keys" / "server.key"
