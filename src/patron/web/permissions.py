"""Which permission each route needs: every API route and console page is listed here.

``PUBLIC`` routes need no sign-in; ``SIGNED_IN`` ones need any staff session or API key.
``METRICS_TOKEN`` routes need the operations token (PATRON_METRICS_TOKEN) as a bearer token,
and nothing else: no staff session or API key opens them (docs/operations.md).
A route missing from this table is refused for everyone (and fails the route × role
test), so a new route cannot be reachable by accident.
"""

from __future__ import annotations

from typing import Final

from patron.staff.roles import Permission as P

PUBLIC: Final = "public"
SIGNED_IN: Final = "signed_in"
METRICS_TOKEN: Final = "metrics_token"

Rule = P | str

ROUTE_PERMISSIONS: dict[tuple[str, str], Rule] = {
    # health and the console's own doors
    ("GET", "/healthz"): PUBLIC,
    # operations (web/operations.py): readiness for load balancers carries no data; the
    # metrics carry figures of the business, for the monitoring's token only
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): METRICS_TOKEN,
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
    # next-basket lists and "bought together" for tills, the mini-program and campaign
    # templates (analytics/serving.py): customers.read / products.read, store-scoped.
    ("GET", "/api/v1/customers/{customer_id}/recommendations"): P.CUSTOMERS_READ,
    ("GET", "/api/v1/products/{sku}/bought-together"): P.PRODUCTS_READ,
    # ---- analytics console pages and the churn API (analytics/pages.py, churn/api.py):
    # reading needs analytics.read; a store-bound role sees its stores' customers only (and
    # no chain-wide figure the services cannot scope: cohorts, migration, the model report).
    # The pages' "Export to Excel" link is the export route above, audited there.
    ("GET", "/analytics"): P.ANALYTICS_READ,
    ("GET", "/analytics/customers"): P.ANALYTICS_READ,
    ("GET", "/analytics/risk"): P.ANALYTICS_READ,
    ("GET", "/analytics/baskets"): P.ANALYTICS_READ,
    ("POST", "/analytics/baskets/offer"): P.CAMPAIGNS_WRITE,
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
    # ---- consent (consent/api.py, consent/pages.py): read with the customer, changed by
    # who may change the customer (audited). The unsubscribe link and the SMS providers'
    # callbacks are public: a signed message token, or the callback's secret, is the key.
    ("GET", "/api/v1/customers/{customer_id}/consent"): P.CUSTOMERS_READ,
    ("POST", "/api/v1/customers/{customer_id}/consent"): P.CUSTOMERS_WRITE,
    ("POST", "/customers/{customer_id}/consent"): P.CUSTOMERS_WRITE,
    ("GET", "/u/{token}"): PUBLIC,
    ("POST", "/u/{token}"): PUBLIC,
    ("POST", "/hooks/sms/{secret}/replies"): PUBLIC,
    ("POST", "/hooks/sms/{secret}/aliyun"): PUBLIC,
    # ---- end of consent ----
    # ---- campaigns (campaigns/api.py, campaigns/pages.py): marketers write templates and
    # campaigns, a chain manager approves; store managers read their stores' results. The
    # open pixel and the click redirect are public: the signed message token is the key.
    ("GET", "/api/v1/campaign-templates"): P.CAMPAIGNS_READ,
    ("POST", "/api/v1/campaign-templates"): P.CAMPAIGNS_WRITE,
    ("GET", "/api/v1/campaign-templates/{template_id}"): P.CAMPAIGNS_READ,
    ("PUT", "/api/v1/campaign-templates/{template_id}"): P.CAMPAIGNS_WRITE,
    ("POST", "/api/v1/campaign-templates/{template_id}/preview"): P.CAMPAIGNS_READ,
    ("POST", "/api/v1/campaign-templates/{template_id}/test-send"): P.CAMPAIGNS_WRITE,
    ("GET", "/api/v1/campaigns"): P.CAMPAIGNS_READ,
    ("POST", "/api/v1/campaigns"): P.CAMPAIGNS_WRITE,
    ("GET", "/api/v1/campaigns/{campaign_id}"): P.CAMPAIGNS_READ,
    ("POST", "/api/v1/campaigns/{campaign_id}/submit"): P.CAMPAIGNS_WRITE,
    ("POST", "/api/v1/campaigns/{campaign_id}/approve"): P.CAMPAIGNS_APPROVE,
    ("POST", "/api/v1/campaigns/{campaign_id}/pause"): P.CAMPAIGNS_WRITE,
    ("POST", "/api/v1/campaigns/{campaign_id}/resume"): P.CAMPAIGNS_WRITE,
    ("POST", "/api/v1/campaigns/{campaign_id}/send"): P.CAMPAIGNS_WRITE,
    ("GET", "/api/v1/campaigns/{campaign_id}/occurrences"): P.CAMPAIGNS_READ,
    ("GET", "/api/v1/campaigns/{campaign_id}/results"): P.CAMPAIGNS_READ,
    ("GET", "/o/{token}.gif"): PUBLIC,
    ("GET", "/c/{token}"): PUBLIC,
    # ---- journeys (journeys/pages.py): marketers switch and edit journeys; the task
    # inbox is for the staff of the customers' stores.
    ("GET", "/journeys"): P.CAMPAIGNS_READ,
    ("POST", "/journeys/run"): P.CAMPAIGNS_WRITE,
    ("GET", "/journeys/{journey_id}"): P.CAMPAIGNS_READ,
    ("POST", "/journeys/{journey_id}"): P.CAMPAIGNS_WRITE,
    ("POST", "/journeys/{journey_id}/enable"): P.CAMPAIGNS_WRITE,
    ("POST", "/journeys/{journey_id}/disable"): P.CAMPAIGNS_WRITE,
    ("GET", "/tasks"): P.CUSTOMERS_READ,
    ("POST", "/tasks/{task_id}/done"): P.CUSTOMERS_WRITE,
    ("GET", "/campaigns"): P.CAMPAIGNS_READ,
    ("POST", "/campaigns"): P.CAMPAIGNS_WRITE,
    ("GET", "/campaigns/templates"): P.CAMPAIGNS_READ,
    ("POST", "/campaigns/templates"): P.CAMPAIGNS_WRITE,
    ("GET", "/campaigns/templates/{template_id}"): P.CAMPAIGNS_READ,
    ("POST", "/campaigns/templates/{template_id}/test-send"): P.CAMPAIGNS_WRITE,
    ("GET", "/campaigns/{campaign_id}"): P.CAMPAIGNS_READ,
    ("POST", "/campaigns/{campaign_id}/submit"): P.CAMPAIGNS_WRITE,
    ("POST", "/campaigns/{campaign_id}/pause"): P.CAMPAIGNS_WRITE,
    ("POST", "/campaigns/{campaign_id}/resume"): P.CAMPAIGNS_WRITE,
    ("POST", "/campaigns/{campaign_id}/send"): P.CAMPAIGNS_WRITE,
    ("POST", "/campaigns/{campaign_id}/approve"): P.CAMPAIGNS_APPROVE,
    # ---- end of campaigns ----
    # ---- audiences (audiences/api.py, audiences/pages.py): marketers and admins build,
    # save and export; roles with audiences.read see the list and counts, a store-bound
    # role only its stores' customers. Exports are audited.
    ("GET", "/api/v1/audiences"): P.AUDIENCES_READ,
    ("POST", "/api/v1/audiences"): P.AUDIENCES_MANAGE,
    ("POST", "/api/v1/audiences/count"): P.AUDIENCES_READ,
    ("POST", "/api/v1/audiences/refresh"): P.AUDIENCES_MANAGE,
    ("GET", "/api/v1/audiences/{audience_id}"): P.AUDIENCES_READ,
    ("PATCH", "/api/v1/audiences/{audience_id}"): P.AUDIENCES_MANAGE,
    ("DELETE", "/api/v1/audiences/{audience_id}"): P.AUDIENCES_MANAGE,
    ("GET", "/api/v1/audiences/{audience_id}/count"): P.AUDIENCES_READ,
    ("GET", "/api/v1/audiences/{audience_id}/export"): P.AUDIENCES_MANAGE,
    ("GET", "/audiences"): P.AUDIENCES_READ,
    ("GET", "/audiences/new"): P.AUDIENCES_MANAGE,
    ("GET", "/audiences/{audience_id}/edit"): P.AUDIENCES_MANAGE,
    ("POST", "/audiences/builder"): P.AUDIENCES_MANAGE,
    ("POST", "/audiences/builder/count"): P.AUDIENCES_MANAGE,
    ("POST", "/audiences/save"): P.AUDIENCES_MANAGE,
    ("POST", "/audiences/{audience_id}/delete"): P.AUDIENCES_MANAGE,
    # custom profile fields: defined by administrators, valued like the rest of a profile
    ("GET", "/api/v1/custom-fields"): P.CUSTOMERS_READ,
    ("POST", "/api/v1/custom-fields"): P.CUSTOM_FIELDS_MANAGE,
    ("GET", "/api/v1/customers/{customer_id}/fields"): P.CUSTOMERS_READ,
    ("PUT", "/api/v1/customers/{customer_id}/fields"): P.CUSTOMERS_WRITE,
    ("POST", "/customers/{customer_id}/fields"): P.CUSTOMERS_WRITE,
    # ---- end of audiences ----
    # service tickets, SLA and surveys (support/api.py, support/pages/)
    ("POST", "/api/v1/tickets"): P.TICKETS_WRITE,
    ("GET", "/api/v1/tickets"): P.TICKETS_READ,
    ("GET", "/api/v1/tickets/{ticket_id}"): P.TICKETS_READ,
    ("POST", "/api/v1/tickets/{ticket_id}/status"): P.TICKETS_WRITE,
    ("POST", "/api/v1/tickets/{ticket_id}/assign"): P.TICKETS_WRITE,
    ("POST", "/api/v1/tickets/{ticket_id}/entries"): P.TICKETS_WRITE,
    ("POST", "/api/v1/tickets/{ticket_id}/attachments"): P.TICKETS_WRITE,
    ("GET", "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"): P.TICKETS_READ,
    ("POST", "/api/v1/tickets/{ticket_id}/refund"): P.REFUNDS_WRITE,
    ("POST", "/api/v1/tickets/{ticket_id}/exchange"): P.REFUNDS_WRITE,
    ("PUT", "/api/v1/tickets/{ticket_id}/repair"): P.TICKETS_WRITE,
    ("GET", "/api/v1/ticket-categories"): P.TICKETS_READ,
    ("POST", "/api/v1/ticket-categories"): P.TICKETS_MANAGE,
    ("GET", "/api/v1/sla-policies"): P.TICKETS_READ,
    ("POST", "/api/v1/sla-policies"): P.TICKETS_MANAGE,
    ("GET", "/api/v1/sla/report"): P.TICKETS_READ,
    ("GET", "/api/v1/surveys"): P.SURVEYS_READ,
    ("POST", "/api/v1/surveys"): P.SURVEYS_MANAGE,
    ("POST", "/api/v1/surveys/{code}/invitations"): P.SURVEYS_MANAGE,
    ("GET", "/api/v1/surveys/{code}/results"): P.SURVEYS_READ,
    ("GET", "/tickets"): P.TICKETS_READ,
    ("GET", "/tickets/new"): P.TICKETS_WRITE,
    ("POST", "/tickets"): P.TICKETS_WRITE,
    ("GET", "/tickets/{ticket_id}"): P.TICKETS_READ,
    ("POST", "/tickets/{ticket_id}/entries"): P.TICKETS_WRITE,
    ("POST", "/tickets/{ticket_id}/status"): P.TICKETS_WRITE,
    ("POST", "/tickets/{ticket_id}/assign"): P.TICKETS_WRITE,
    ("POST", "/tickets/{ticket_id}/refund"): P.REFUNDS_WRITE,
    ("POST", "/tickets/{ticket_id}/photos"): P.TICKETS_WRITE,
    ("GET", "/tickets/{ticket_id}/photos/{attachment_id}"): P.TICKETS_READ,
    ("GET", "/service/sla"): P.TICKETS_READ,
    ("GET", "/surveys"): P.SURVEYS_READ,
    ("GET", "/surveys/new"): P.SURVEYS_MANAGE,
    ("POST", "/surveys/new"): P.SURVEYS_MANAGE,
    ("GET", "/service/sla/policies"): P.TICKETS_MANAGE,
    ("POST", "/service/sla/policies"): P.TICKETS_MANAGE,
    ("GET", "/surveys/{code}"): P.SURVEYS_READ,
    # the public survey page: the signed one-time link is the key (support/pages/public.py)
    ("GET", "/s/{token}"): PUBLIC,
    ("POST", "/s/{token}"): PUBLIC,
    # events and webhooks (events/api.py, events/pages.py): a shop's key posts behaviour
    # events; admins read the stream and manage webhooks
    ("POST", "/api/v1/events"): P.EVENTS_WRITE,
    ("GET", "/api/v1/events"): P.EVENTS_READ,
    ("GET", "/api/v1/webhooks"): P.WEBHOOKS_MANAGE,
    ("POST", "/api/v1/webhooks"): P.WEBHOOKS_MANAGE,
    ("POST", "/api/v1/webhooks/{subscription_id}/pause"): P.WEBHOOKS_MANAGE,
    ("POST", "/api/v1/webhooks/{subscription_id}/resume"): P.WEBHOOKS_MANAGE,
    ("POST", "/api/v1/webhooks/{subscription_id}/rotate"): P.WEBHOOKS_MANAGE,
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries"): P.WEBHOOKS_MANAGE,
    ("GET", "/api/v1/webhooks/deliveries/{delivery_id}/attempts"): P.WEBHOOKS_MANAGE,
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/redeliver"): P.WEBHOOKS_MANAGE,
    ("GET", "/events"): P.EVENTS_READ,
    ("GET", "/webhooks"): P.WEBHOOKS_MANAGE,
    ("POST", "/webhooks"): P.WEBHOOKS_MANAGE,
    ("POST", "/webhooks/{subscription_id}/pause"): P.WEBHOOKS_MANAGE,
    ("POST", "/webhooks/{subscription_id}/resume"): P.WEBHOOKS_MANAGE,
    ("POST", "/webhooks/{subscription_id}/rotate"): P.WEBHOOKS_MANAGE,
    ("GET", "/webhooks/{subscription_id}"): P.WEBHOOKS_MANAGE,
    ("POST", "/webhooks/deliveries/{delivery_id}/redeliver"): P.WEBHOOKS_MANAGE,
    # privacy: data-subject requests, access exports, the register, retention, the report
    ("POST", "/api/v1/privacy/requests"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/requests"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/requests/{request_id}"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/requests/{request_id}/change"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/customers/{customer_id}/export"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/requests/{request_id}/erase"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/requests/{request_id}/correct"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/customers/{customer_id}/corrections"): P.PRIVACY_MANAGE,
    ("GET", "/api/v1/privacy/customers/{customer_id}/holds"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/customers/{customer_id}/holds"): P.PRIVACY_MANAGE,
    ("POST", "/api/v1/privacy/holds/{hold_id}/lift"): P.PRIVACY_MANAGE,
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
    ("POST", "/privacy/requests/{request_id}/erase"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/requests/{request_id}/holds"): P.PRIVACY_MANAGE,
    ("POST", "/privacy/requests/{request_id}/holds/{hold_id}/lift"): P.PRIVACY_MANAGE,
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
