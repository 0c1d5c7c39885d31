"""Extension objects shared by every app instance (AppBuilder is made per app)."""

from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate

db = SQLA()
migrate = Migrate()
