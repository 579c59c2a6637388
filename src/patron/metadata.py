"""Every table, gathered for Alembic and for tests that build a schema."""

from patron.analytics import models as analytics_models
from patron.analytics.basket import models as basket_models
from patron.analytics.churn import models as churn_models
from patron.analytics.forecast import models as forecast_models
from patron.analytics.recommend import models as recommend_models
from patron.audiences import models as audience_models
from patron.audit import models as audit_models
from patron.campaigns import models as campaign_models
from patron.catalog import models as catalog_models
from patron.consent import models as consent_models
from patron.core.models import Base
from patron.customers import models as customer_models
from patron.engagement import models as engagement_models
from patron.events import models as event_models
from patron.imports import models as import_models
from patron.jobs import models as job_models
from patron.journeys import models as journey_models
from patron.loyalty import models as loyalty_models
from patron.orders import models as order_models
from patron.privacy import models as privacy_models
from patron.staff import models as staff_models
from patron.support import models as support_models
from patron.support.surveys import models as survey_models
from patron.support.tickets import models as ticket_models

metadata = Base.metadata

__all__ = [
    "analytics_models",
    "audience_models",
    "audit_models",
    "basket_models",
    "campaign_models",
    "catalog_models",
    "churn_models",
    "consent_models",
    "customer_models",
    "engagement_models",
    "event_models",
    "forecast_models",
    "import_models",
    "job_models",
    "journey_models",
    "loyalty_models",
    "metadata",
    "order_models",
    "privacy_models",
    "recommend_models",
    "staff_models",
    "support_models",
    "survey_models",
    "ticket_models",
]
