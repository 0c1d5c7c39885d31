"""Extension objects shared by every app instance (AppBuilder is made per app)."""

from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA()
migrate = Migrate()
# Every state-changing request carries a CSRF token; FAB exempts its token-signed APIs.
csrf = CSRFProtect()
