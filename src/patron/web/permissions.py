"""Which permission each route needs: every API route and console page is listed here.

``PUBLIC`` routes need no sign-in; ``SIGNED_IN`` ones need any staff session or API key.
A route missing from this table is refused for everyone (and fails the route × role
test), so a new route cannot be reachable by accident.
"""

from __future__ import annotations

from typing import Final

from patron.staff.roles import Permission as P

PUBLIC: Final = "public"
SIGNED_IN: Final = "signed_in"

Rule = P | str

ROUTE_PERMISSIONS: dict[tuple[str, str], Rule] = {
    # health and the console's own doors
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/sign-in"): PUBLIC,
    ("POST", "/sign-in"): PUBLIC,
    ("POST", "/sign-out"): SIGNED_IN,
    ("GET", "/"): SIGNED_IN,
    ("GET", "/account/password"): SIGNED_IN,
    ("POST", "/account/password"): SIGNED_IN,
    # who am I
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("POST", "/api/v1/me/password"): SIGNED_IN,
    # stores and products
    ("GET", "/api/v1/stores"): P.STORES_READ,
    ("POST", "/api/v1/stores"): P.STORES_WRITE,
    ("GET", "/api/v1/stores/{code}"): P.STORES_READ,
    ("PUT", "/api/v1/products"): P.PRODUCTS_WRITE,
    ("GET", "/api/v1/products"): P.PRODUCTS_READ,
    ("GET", "/api/v1/products/{sku}"): P.PRODUCTS_READ,
    # customers
    ("POST", "/api/v1/customers"): P.CUSTOMERS_WRITE,
    ("GET", "/api/v1/customers"): P.CUSTOMERS_READ,
    ("GET", "/api/v1/customers/lookup"): P.CUSTOMERS_READ,
    ("GET", "/api/v1/customers/{customer_id}"): P.CUSTOMERS_READ,
    ("PATCH", "/api/v1/customers/{customer_id}"): P.CUSTOMERS_WRITE,
    ("POST", "/api/v1/customers/{customer_id}/reveal"): P.CUSTOMERS_REVEAL,
    ("GET", "/api/v1/customers/{customer_id}/orders"): P.ORDERS_READ,
    ("POST", "/api/v1/customers/{customer_id}/tags"): P.CUSTOMERS_WRITE,
    ("DELETE", "/api/v1/customers/{customer_id}/tags/{name}"): P.CUSTOMERS_WRITE,
    ("POST", "/api/v1/customers/{customer_id}/interactions"): P.INTERACTIONS_WRITE,
    ("GET", "/api/v1/customers/{customer_id}/interactions"): P.CUSTOMERS_READ,
    ("POST", "/api/v1/customers/{customer_id}/merge"): P.CUSTOMERS_MERGE,
    ("GET", "/api/v1/customers/{customer_id}/merges"): P.CUSTOMERS_READ,
    ("POST", "/api/v1/merges/{merge_id}/undo"): P.CUSTOMERS_MERGE,
    # merge suggestions: profiles a till's record says are one person, for those who merge
    ("GET", "/api/v1/merge-suggestions"): P.CUSTOMERS_MERGE,
    ("GET", "/api/v1/merge-suggestions/{suggestion_id}"): P.CUSTOMERS_MERGE,
    ("POST", "/api/v1/merge-suggestions/{suggestion_id}/accept"): P.CUSTOMERS_MERGE,
    ("POST", "/api/v1/merge-suggestions/{suggestion_id}/dismiss"): P.CUSTOMERS_MERGE,
    ("GET", "/merge-suggestions"): P.CUSTOMERS_MERGE,
    ("POST", "/merge-suggestions/{suggestion_id}/accept"): P.CUSTOMERS_MERGE,
    ("POST", "/merge-suggestions/{suggestion_id}/dismiss"): P.CUSTOMERS_MERGE,
    # orders and refunds
    ("POST", "/api/v1/orders"): P.ORDERS_WRITE,
    ("POST", "/api/v1/orders/bulk"): P.ORDERS_WRITE,
    ("GET", "/api/v1/orders"): P.ORDERS_READ,
    ("GET", "/api/v1/orders/{order_id}"): P.ORDERS_READ,
    ("POST", "/api/v1/refunds"): P.REFUNDS_WRITE,
    # loyalty: the till's calls, a member's account, the programme
    ("GET", "/api/v1/loyalty/lookup"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/quote"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/commit"): P.LOYALTY_WRITE,
    ("POST", "/api/v1/loyalty/refunds"): P.LOYALTY_WRITE,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/balance"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/tier"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/lots"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/entries"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/customers/{customer_id}/adjustments"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/coupons"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/coupon-templates"): P.LOYALTY_MANAGE,
    ("POST", "/api/v1/loyalty/coupons"): P.LOYALTY_MANAGE,
    ("POST", "/api/v1/loyalty/coupons/bulk"): P.LOYALTY_MANAGE,
    ("POST", "/api/v1/loyalty/birthday-gifts"): P.LOYALTY_MANAGE,
    # loyalty: referrals, lotteries, the programme report
    ("POST", "/api/v1/loyalty/customers/{customer_id}/referral-code"): P.LOYALTY_WRITE,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/referrals"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/referrals"): P.LOYALTY_WRITE,
    ("POST", "/api/v1/loyalty/lotteries"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/lotteries"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/lotteries/{code}"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/lotteries/{code}/draws"): P.LOYALTY_WRITE,
    ("GET", "/api/v1/loyalty/lotteries/{code}/draws"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/lotteries/{code}/check"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/report"): P.ANALYTICS_READ,
    ("GET", "/api/v1/loyalty/programme"): P.LOYALTY_READ,
    ("PUT", "/api/v1/loyalty/programme"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/programme/history"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/promotions"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/promotions"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/promotions/{code}/end"): P.LOYALTY_MANAGE,
    # loyalty: gifts for points, member offers, early access, birthday coupons
    ("POST", "/api/v1/loyalty/rewards"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/rewards"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/rewards/{code}/end"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/rewards/report"): P.ANALYTICS_READ,
    ("POST", "/api/v1/loyalty/redemptions"): P.LOYALTY_WRITE,
    ("GET", "/api/v1/loyalty/redemptions"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/redemptions/{redemption_id}/cancel"): P.LOYALTY_MANAGE,
    ("POST", "/api/v1/loyalty/offers"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/offers"): P.LOYALTY_READ,
    ("POST", "/api/v1/loyalty/offers/{code}/end"): P.LOYALTY_MANAGE,
    ("PUT", "/api/v1/loyalty/early-access"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/early-access"): P.LOYALTY_READ,
    ("GET", "/api/v1/loyalty/customers/{customer_id}/may-buy"): P.LOYALTY_READ,
    ("PUT", "/api/v1/loyalty/birthday-coupons"): P.LOYALTY_MANAGE,
    ("GET", "/api/v1/loyalty/birthday-coupons"): P.LOYALTY_READ,
    # staff, keys, audit
    ("GET", "/api/v1/staff"): P.STAFF_MANAGE,
    ("POST", "/api/v1/staff"): P.STAFF_MANAGE,
    ("GET", "/api/v1/staff/{staff_id}"): P.STAFF_MANAGE,
    ("PATCH", "/api/v1/staff/{staff_id}"): P.STAFF_MANAGE,
    ("GET", "/api/v1/api-keys"): P.STAFF_MANAGE,
    ("POST", "/api/v1/api-keys"): P.STAFF_MANAGE,
    ("POST", "/api/v1/api-keys/{api_key_id}/revoke"): P.STAFF_MANAGE,
    ("GET", "/api/v1/audit"): P.AUDIT_READ,
    # ---- the staff console (customers/, catalog/, staff/, audit/ pages.py; web/pages.py) ----
    # "/" (above) is the dashboard: every signed-in role lands there; the page shows sales
    # figures to roles with analytics.read or orders.read, scoped to a store-bound role's stores.
    ("GET", "/language/{code}"): PUBLIC,  # a cookie with the language; no data
    ("GET", "/customers"): P.CUSTOMERS_READ,
    ("GET", "/customers/{customer_id}"): P.CUSTOMERS_READ,
    ("GET", "/customers/{customer_id}/orders"): P.ORDERS_READ,
    ("POST", "/customers/{customer_id}/tags"): P.CUSTOMERS_WRITE,
    ("POST", "/customers/{customer_id}/tags/remove"): P.CUSTOMERS_WRITE,
    ("POST", "/customers/{customer_id}/interactions"): P.INTERACTIONS_WRITE,
    ("POST", "/customers/{customer_id}/reveal"): P.CUSTOMERS_REVEAL,
    ("GET", "/stores"): P.STORES_READ,
    ("POST", "/stores"): P.STORES_WRITE,
    ("GET", "/staff"): P.STAFF_MANAGE,
    ("POST", "/staff"): P.STAFF_MANAGE,
    ("POST", "/staff/{staff_id}"): P.STAFF_MANAGE,
    ("GET", "/audit"): P.AUDIT_READ,
    # ---- end of the staff console ----
    # ---- loyalty console pages (loyalty/pages.py): the programme, coupon templates and
    # issuing, promotions, lotteries, and the 360 page's points adjustments and referral codes.
    # Reading needs loyalty.read (the programme report on /loyalty also needs analytics.read,
    # checked in the page); changing the programme's offers needs loyalty.manage; a referral
    # code is made by whoever may record referrals (loyalty.write), as in the API.
    ("GET", "/loyalty"): P.LOYALTY_READ,
    ("POST", "/loyalty/programme"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/coupon-templates"): P.LOYALTY_READ,
    ("POST", "/loyalty/coupon-templates"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/coupons"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/coupons/bulk"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/promotions"): P.LOYALTY_READ,
    ("POST", "/loyalty/promotions"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/promotions/{code}/end"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/lotteries"): P.LOYALTY_READ,
    ("POST", "/loyalty/lotteries"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/lotteries/{code}"): P.LOYALTY_READ,
    ("GET", "/loyalty/lotteries/{code}/check"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/members/{customer_id}/adjustments"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/members/{customer_id}/referral-code"): P.LOYALTY_WRITE,
    ("GET", "/loyalty/gifts"): P.LOYALTY_READ,
    ("POST", "/loyalty/gifts"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/gifts/{code}/end"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/gifts/redeem"): P.LOYALTY_WRITE,
    ("POST", "/loyalty/gifts/redemptions/{redemption_id}/cancel"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/offers"): P.LOYALTY_READ,
    ("POST", "/loyalty/offers"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/offers/{code}/end"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/early-access"): P.LOYALTY_READ,
    ("POST", "/loyalty/early-access"): P.LOYALTY_MANAGE,
    ("POST", "/loyalty/birthday-coupons"): P.LOYALTY_MANAGE,
    ("GET", "/loyalty/till"): P.LOYALTY_READ,
    ("POST", "/loyalty/till"): P.LOYALTY_READ,
    # ---- end of the loyalty console pages ----
    # analytics: runs, summaries, scored customers, results. Starting a run by hand loads
    # the server for a while: administrators, chain managers and analysts may.
    ("GET", "/api/v1/analytics/runs"): P.ANALYTICS_READ,
    ("POST", "/api/v1/analytics/runs"): P.ANALYTICS_RUN,
    ("GET", "/api/v1/analytics/runs/{run_id}"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/segments"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/stages"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/customers"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/customers/export"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/cohorts"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/kpis"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/migration"): P.ANALYTICS_READ,
    ("GET", "/api/v1/customers/{customer_id}/scores"): P.ANALYTICS_READ,
    # ---- analytics console pages and the churn API (analytics/pages.py, churn/api.py):
    # reading needs analytics.read; a store-bound role sees its stores' customers only (and
    # no chain-wide figure the services cannot scope: cohorts, migration, the model report).
    # The pages' "Export to Excel" link is the export route above, audited there.
    ("GET", "/analytics"): P.ANALYTICS_READ,
    ("GET", "/analytics/customers"): P.ANALYTICS_READ,
    ("GET", "/analytics/risk"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/risk"): P.ANALYTICS_READ,
    ("GET", "/api/v1/analytics/risk/report"): P.ANALYTICS_READ,
    ("GET", "/api/v1/customers/{customer_id}/risk"): P.ANALYTICS_READ,
    # ---- end of the analytics console pages and the churn API ----
    # ---- the import page (imports/pages.py): administrators and chain managers; each
    # upload, start, saved mapping and report download is audited.
    ("GET", "/imports"): P.IMPORTS_RUN,
    ("POST", "/imports/upload"): P.IMPORTS_RUN,
    ("GET", "/imports/uploads/{token}"): P.IMPORTS_RUN,
    ("POST", "/imports/uploads/{token}"): P.IMPORTS_RUN,
    ("GET", "/imports/runs/{run_id}"): P.IMPORTS_RUN,
    ("GET", "/imports/runs/{run_id}/progress"): P.IMPORTS_RUN,
    ("GET", "/imports/runs/{run_id}/report"): P.IMPORTS_RUN,
    # ---- end of the import page ----
    # privacy: data-subject requests, access exports, the register, retention, the report
    ("POST", "/api/v1/privacy/requests"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/requests"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/requests/{request_id}"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/requests/{request_id}/change"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/customers/{customer_id}/export"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/register"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/register"): P.PRIVACY_MANAGE,
    ("PUT", "/api/v1/privacy/register/{activity_id}"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/retention"): P.PRIVACY_MANAGE,
    ("PUT", "/api/v1/privacy/retention"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/retention/run"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/reveals"): P.PRIVACY_MANAGE,
    ("GET", "/privacy"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/requests"): P.PRIVACY_MANAGE,
    ("GET", "/privacy/requests/{request_id}"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/requests/{request_id}/change"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/requests/{request_id}/export"): P.PRIVACY_MANAGE,
    ("GET", "/privacy/register"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/register"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/register/{activity_id}"): P.PRIVACY_MANAGE,
    ("GET", "/privacy/register.xlsx"): P.PRIVACY_MANAGE,
    ("GET", "/privacy/report"): P.PRIVACY_MANAGE,
    ("GET", "/privacy-notice/{store_code}"): PUBLIC,
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule for a route (HEAD is judged as GET); None when the route has none."""
    if method == "HEAD":
        method = "GET"
    return ROUTE_PERMISSIONS.get((method, path))
