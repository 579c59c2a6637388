"""Every table, gathered for Alembic and for tests that build a schema."""

from patron.catalog import models as catalog_models
from patron.core.models import Base
from patron.customers import models as customer_models
from patron.imports import models as import_models
from patron.orders import models as order_models

metadata = Base.metadata

__all__ = ["catalog_models", "customer_models", "import_models", "metadata", "order_models"]
