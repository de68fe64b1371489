"""Imports every domain's models so that ``Base.metadata`` (migrations, ``alembic check``) knows every table."""

from server import api  # noqa: F401 - idempotent responses
from server.units import models as units  # noqa: F401
from server.users import models as users  # noqa: F401
