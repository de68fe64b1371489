"""Imports every domain's models so that ``Base.metadata`` (migrations, ``alembic check``) knows every table."""

from server import api  # noqa: F401 - idempotent responses
from server.alerts import models as alerts  # noqa: F401
from server.cases import models as cases  # noqa: F401
from server.clients import models as clients  # noqa: F401
from server.clues import models as clues  # noqa: F401
from server.devices import models as devices  # noqa: F401
from server.items import models as items  # noqa: F401
from server.ledger import models as ledger  # noqa: F401
from server.readings import models as readings  # noqa: F401
from server.reports import models as reports  # noqa: F401
from server.sites import models as sites  # noqa: F401
from server.units import models as units  # noqa: F401
from server.uploads import models as uploads  # noqa: F401
from server.users import models as users  # noqa: F401
from server.visits import models as visits  # noqa: F401
from server.webhooks import models as webhooks  # noqa: F401
