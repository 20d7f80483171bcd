# Register your models here.
from policies import (
    admin_redaction,  # noqa: F401  (redaction policies admin, registered on import)
    spend_admin,  # noqa: F401  (spend limits admin, registered on import)
)
