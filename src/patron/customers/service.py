"""Customers: sign-up, profiles, look-up, tags, interactions, merge and unmerge.

Other domains use this module, never the customer tables. It gathers what they call from
the modules that hold each idea: reads (:mod:`~patron.customers.reads`), changes
(:mod:`~patron.customers.writes`), merges and their suggestions
(:mod:`~patron.customers.merges`), the store-scope rule (:mod:`~patron.customers.scope`),
identity resolution (:mod:`~patron.customers.identity`) and encryption at rest
(:mod:`~patron.customers.encryption`).
"""

from __future__ import annotations

from patron.customers.encryption import (
    ColumnKeys,
    Rotation,
    count_encrypted_values,
    ensure_keys,
    holds_encrypted_data,
    rotate_keys,
)
from patron.customers.identity import Resolution, ResolveContext
from patron.customers.merges import (
    accept_merge_suggestion,
    dismiss_merge_suggestion,
    get_merge_suggestion_or_raise,
    list_merge_suggestions,
    list_merges,
    merge_customers,
    unmerge_customers,
)
from patron.customers.plain import PLAIN_EVENTS, plain_move_signup_back, plain_resolve
from patron.customers.reads import (
    Birthday,
    active_customer_id,
    birthdays,
    check_customer_in_scope,
    count_customers,
    customer_exists,
    find_customer_id,
    find_customer_ids_by_account,
    get_customer,
    get_customer_or_raise,
    get_customers,
    identity_owner,
    identity_params,
    is_live_customer,
    list_customers,
    list_interactions,
    live_customer_ids,
    lookup_customer,
    reveal_customer,
)
from patron.customers.scope import belongs_to_stores, customer_ids_in_stores
from patron.customers.writes import (
    RegisterOutcome,
    add_tag,
    note_earliest_evidence,
    record_interaction,
    register_customer,
    register_customers,
    remove_tag,
    resolve_customers,
    update_customer,
)

__all__ = [
    "PLAIN_EVENTS",
    "Birthday",
    "ColumnKeys",
    "RegisterOutcome",
    "Resolution",
    "ResolveContext",
    "Rotation",
    "accept_merge_suggestion",
    "active_customer_id",
    "add_tag",
    "belongs_to_stores",
    "birthdays",
    "check_customer_in_scope",
    "count_customers",
    "count_encrypted_values",
    "customer_exists",
    "customer_ids_in_stores",
    "dismiss_merge_suggestion",
    "ensure_keys",
    "find_customer_id",
    "find_customer_ids_by_account",
    "get_customer",
    "get_customer_or_raise",
    "get_customers",
    "get_merge_suggestion_or_raise",
    "holds_encrypted_data",
    "identity_owner",
    "identity_params",
    "is_live_customer",
    "list_customers",
    "list_interactions",
    "list_merge_suggestions",
    "list_merges",
    "live_customer_ids",
    "lookup_customer",
    "merge_customers",
    "note_earliest_evidence",
    "plain_move_signup_back",
    "plain_resolve",
    "record_interaction",
    "register_customer",
    "register_customers",
    "remove_tag",
    "resolve_customers",
    "reveal_customer",
    "rotate_keys",
    "unmerge_customers",
    "update_customer",
]
