"""Roles and what each may do: the one table every API route and console page is judged by.

A permission names an action on a kind of record. Each route states the permission it needs
in :data:`patron.web.security.ROUTE_PERMISSIONS`; a route without a rule is refused for
everyone, and a test walks every route × every role against this table.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    CUSTOMERS_REVEAL = "customers.reveal"  # see a phone or e-mail unmasked, with a reason
    CUSTOMERS_MERGE = "customers.merge"
    INTERACTIONS_WRITE = "interactions.write"
    ORDERS_READ = "orders.read"
    ORDERS_WRITE = "orders.write"
    REFUNDS_WRITE = "refunds.write"
    STORES_READ = "stores.read"
    STORES_WRITE = "stores.write"
    PRODUCTS_READ = "products.read"
    PRODUCTS_WRITE = "products.write"
    LOYALTY_READ = "loyalty.read"
    LOYALTY_WRITE = "loyalty.write"
    LOYALTY_MANAGE = "loyalty.manage"  # programme, tiers, coupon templates, adjustments
    ANALYTICS_READ = "analytics.read"
    ANALYTICS_RUN = "analytics.run"  # start an analytics run by hand (it loads the server)
    STAFF_MANAGE = "staff.manage"  # staff users, roles, API keys
    AUDIT_READ = "audit.read"
    IMPORTS_RUN = "imports.run"  # import files of customers, products and sales (console)
    CAMPAIGNS_READ = "campaigns.read"  # templates, campaigns and their results
    CAMPAIGNS_WRITE = "campaigns.write"  # write templates, create, schedule, pause and send
    CAMPAIGNS_APPROVE = "campaigns.approve"  # approve a campaign before it sends
    AUDIENCES_READ = "audiences.read"  # see saved audiences and their counts (own stores)
    AUDIENCES_MANAGE = "audiences.manage"  # build, save, delete and export audiences
    CUSTOM_FIELDS_MANAGE = "custom_fields.manage"  # define custom profile fields (admins)
    TICKETS_READ = "tickets.read"  # service tickets, their SLA clocks and the SLA report
    TICKETS_WRITE = "tickets.write"  # open, assign, move, note and reply to tickets
    TICKETS_MANAGE = "tickets.manage"  # SLA policies, the category tree
    SURVEYS_READ = "surveys.read"  # survey results, NPS and CSAT
    SURVEYS_MANAGE = "surveys.manage"  # build surveys and send them to a list
    PRIVACY_MANAGE = "privacy.manage"  # data-subject requests, exports, retention, register
    EVENTS_WRITE = "events.write"  # post behaviour events (a web shop's or mini-program's key)
    EVENTS_READ = "events.read"  # the event stream on the console (admins)
    WEBHOOKS_MANAGE = "webhooks.manage"  # webhook subscriptions, secrets, redelivery (admins)


class Role(StrEnum):
    ADMIN = "admin"
    CHAIN_MANAGER = "chain_manager"
    STORE_MANAGER = "store_manager"
    CASHIER = "cashier"
    SERVICE_AGENT = "service_agent"
    MARKETER = "marketer"
    ANALYST = "analyst"
    PRIVACY_OFFICER = "privacy_officer"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CHAIN_MANAGER: frozenset(
        {
            P.EVENTS_WRITE,
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.CUSTOMERS_REVEAL,
            P.CUSTOMERS_MERGE,
            P.INTERACTIONS_WRITE,
            P.ORDERS_READ,
            P.ORDERS_WRITE,
            P.REFUNDS_WRITE,
            P.STORES_READ,
            P.STORES_WRITE,
            P.PRODUCTS_READ,
            P.PRODUCTS_WRITE,
            P.LOYALTY_READ,
            P.LOYALTY_WRITE,
            P.LOYALTY_MANAGE,
            P.ANALYTICS_READ,
            P.ANALYTICS_RUN,
            P.IMPORTS_RUN,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_WRITE,
            P.CAMPAIGNS_APPROVE,
            P.AUDIENCES_READ,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
            P.TICKETS_MANAGE,
            P.SURVEYS_READ,
            P.SURVEYS_MANAGE,
        }
    ),
    Role.STORE_MANAGER: frozenset(
        {
            P.EVENTS_WRITE,
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.CUSTOMERS_REVEAL,
            P.INTERACTIONS_WRITE,
            P.ORDERS_READ,
            P.ORDERS_WRITE,
            P.REFUNDS_WRITE,
            P.STORES_READ,
            P.PRODUCTS_READ,
            P.LOYALTY_READ,
            P.LOYALTY_WRITE,
            P.ANALYTICS_READ,
            P.CAMPAIGNS_READ,
            P.AUDIENCES_READ,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
            P.SURVEYS_READ,
        }
    ),
    Role.CASHIER: frozenset(
        {
            P.EVENTS_WRITE,
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.ORDERS_READ,
            P.ORDERS_WRITE,
            P.REFUNDS_WRITE,
            P.STORES_READ,
            P.PRODUCTS_READ,
            P.LOYALTY_READ,
            P.LOYALTY_WRITE,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
        }
    ),
    Role.SERVICE_AGENT: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.CUSTOMERS_REVEAL,
            P.INTERACTIONS_WRITE,
            P.ORDERS_READ,
            P.STORES_READ,
            P.PRODUCTS_READ,
            P.LOYALTY_READ,
            P.REFUNDS_WRITE,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
            P.SURVEYS_READ,
        }
    ),
    Role.MARKETER: frozenset(
        {
            P.CUSTOMERS_READ,
            P.STORES_READ,
            P.PRODUCTS_READ,
            P.LOYALTY_READ,
            P.LOYALTY_MANAGE,
            P.ANALYTICS_READ,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_WRITE,
            P.AUDIENCES_READ,
            P.AUDIENCES_MANAGE,
            P.SURVEYS_READ,
            P.SURVEYS_MANAGE,
        }
    ),
    Role.ANALYST: frozenset(
        {
            P.CUSTOMERS_READ,
            P.ORDERS_READ,
            P.STORES_READ,
            P.PRODUCTS_READ,
            P.ANALYTICS_READ,
            P.ANALYTICS_RUN,
            P.CAMPAIGNS_READ,
            P.AUDIENCES_READ,
            P.SURVEYS_READ,
        }
    ),
    Role.PRIVACY_OFFICER: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_REVEAL,
            P.CUSTOMERS_MERGE,
            P.ORDERS_READ,
            P.AUDIT_READ,
            P.PRIVACY_MANAGE,
        }
    ),
}

# These roles work in named stores and see only those stores' customers and orders.
STORE_BOUND_ROLES = frozenset({Role.STORE_MANAGER, Role.CASHIER})


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("管理员", "Administrator"),
    Role.CHAIN_MANAGER: ("连锁经理", "Chain manager"),
    Role.STORE_MANAGER: ("店长", "Store manager"),
    Role.CASHIER: ("收银员", "Cashier"),
    Role.SERVICE_AGENT: ("客服", "Service agent"),
    Role.MARKETER: ("营销", "Marketer"),
    Role.ANALYST: ("分析师", "Analyst"),
    Role.PRIVACY_OFFICER: ("隐私官", "Privacy officer"),
}
