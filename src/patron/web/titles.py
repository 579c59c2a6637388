"""Titles of the codes the console shows, defined once: the channels a sale, a sign-up or a
conversation comes through, and the kinds of store. Each maps a stored code to an English
msgid, translated when shown (``i18n.title_of`` or ``_()`` in a template); a code without a
title is shown as it was stored (a channel name from an import, say).

Titles that belong to one domain's screens only live beside them (the loyalty screens'
kinds in loyalty/pages/titles.py, the audit log's actions in audit/pages.py).
"""

from __future__ import annotations

from typing import Final

from patron.web.i18n import N_

# Sales channels (an order's ``channel``; the dashboard's and analytics' breakdowns).
CHANNEL_TITLES: Final[dict[str, str]] = {
    "pos": N_("In store"),
    "online": N_("Online shop"),
    "mini_program": N_("Mini-program"),
    "phone": N_("Phone"),
    "other": N_("Other"),
}

# A sign-up's channel: the sales channels, and "store" (a sign-up at the counter).
SIGNUP_CHANNEL_TITLES: Final[dict[str, str]] = {**CHANNEL_TITLES, "store": N_("In store")}

# The channels an interaction (a note of a call or a visit) is recorded with.
INTERACTION_CHANNEL_TITLES: Final[dict[str, str]] = {
    "phone": N_("Phone call"),
    "wechat": N_("WeChat"),
    "store": N_("In store"),
    "email": N_("E-mail"),
    "other": N_("Other"),
}

# Kinds of store (catalog's ``StoreKind`` values).
STORE_KIND_TITLES: Final[dict[str, str]] = {
    "physical": N_("Shop"),
    "online": N_("Online shop"),
    "mini_program": N_("Mini-program"),
}
