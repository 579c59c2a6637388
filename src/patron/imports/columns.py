"""Which column of an export holds which field: header aliases in Chinese and English.

Every till, ERP and web shop names its columns differently (手机号, 联系电话, Mobile,
InvoiceNo…). Headers are compared after folding case, width (全角 → 半角), spaces and
punctuation, and again without a trailing unit in brackets (``单价(元)`` is ``单价``).
Anything the table does not know is named with ``--map target=Column`` or a mapping file.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from patron.core.errors import InvalidInput, PatronError

KINDS = ("customers", "products", "orders")

# Aliases are written "a|b|c" so the tables stay readable; compared after normalise_header().
# Identifiers of a person, shared by the customers and orders kinds.
_IDENTITY = {
    "phone": "手机号|手机|手机号码|联系电话|电话|电话号码|联系方式|会员手机|会员手机号|顾客手机|"
    "客户手机|mobile|mobile phone|mobile number|phone|phone number|tel|telephone|cell|cellphone",
    "member_card": "会员卡号|卡号|会员卡|会员号|会员编号|会员码|member card|membercard|"
    "member card no|card no|card number|member no|member id|loyalty card|membership number",
    "external_account": "客户编号|客户id|客户号|顾客编号|顾客id|用户id|用户编号|账号|会员id|"
    "customerid|customer id|customer no|customer number|client id|user id|account|account id|"
    "external account",
    "email": "邮箱|电子邮箱|电子邮件|邮件|email|e-mail|mail|email address",
    "wechat_openid": "openid|微信openid|wechat openid|open id",
    "wechat_unionid": "unionid|微信unionid|wechat unionid|union id",
    "wechat_appid": "appid|公众号appid|小程序appid|wechat appid|app id",
}
_NAME = "姓名|名字|会员姓名|顾客姓名|客户姓名|客户名称|会员名称|联系人|name|full name|customer name|member name"
_GENDER = "性别|gender|sex"
_CITY = "城市|所在城市|city|town"
_ADDRESS = (
    "地址|详细地址|联系地址|通讯地址|家庭地址|家庭住址|住址|收货地址|address|street address|"
    "home address|mailing address|postal address|shipping address|delivery address"
)
_SKU = (
    "商品编码|商品编号|商品代码|sku|货号|商品货号|条码|商品条码|条形码|编码|物料编码|stockcode|"
    "stock code|item code|product code|product id|item id|barcode|ean|upc|article"
)

_TABLES: dict[str, dict[str, str]] = {
    "orders": {
        "order_id": "订单号|订单编号|单号|订单id|流水号|小票号|交易号|交易单号|销售单号|单据号|"
        "单据编号|order id|order no|order number|orderid|order|invoiceno|invoice no|invoice|"
        "invoice number|receipt no|transaction id|ticket no",
        "sku": _SKU,
        "product_name": "商品名称|品名|商品名|商品|名称|商品描述|description|product name|"
        "item name|product|item|item description",
        "quantity": "数量|销售数量|购买数量|件数|qty|quantity|units|count",
        "unit_price": "单价|售价|销售单价|成交单价|价格|unitprice|unit price|price|sale price|"
        "selling price",
        "amount": "金额|实付金额|行金额|小计|实收金额|成交金额|销售金额|应付金额|amount|"
        "line amount|line total|subtotal|paid|net amount",
        "discount": "优惠|折扣金额|优惠金额|折扣|让利|减免|discount|line discount|discount amount",
        "order_discount": "整单优惠|整单折扣|订单优惠|抹零|order discount|order level discount",
        "total": "订单金额|订单总额|订单实付|合计金额|总金额|order total|total",
        "ordered_at": "下单时间|订单时间|日期|时间|交易时间|销售时间|销售日期|成交时间|付款时间|"
        "支付时间|创建时间|invoicedate|invoice date|date|order date|ordered at|order time|datetime|"
        "timestamp|transaction date|created at",
        # A store column holds a code or a name; each is matched against both.
        "store_code": "门店编码|门店代码|门店编号|店铺编码|店铺编号|店号|门店|店铺|store code|"
        "store id|store no|shop code|shop id|branch code|store|shop|branch",
        "store_name": "门店名称|店铺名称|门店名|店名|店铺名|store name|shop name|branch name",
        "payment_method": "支付方式|付款方式|结算方式|收款方式|payment|payment method|"
        "payment type|tender|pay type",
        "channel": "渠道|销售渠道|来源渠道|订单来源|channel|sales channel",
        "status": "订单状态|交易状态|状态|status|order status|transaction status",
        "after_sale_status": "售后状态|退款状态|退货状态|售后|after sale status|after-sale status|"
        "refund status|return status",
        "refund_amount": "退款金额|退货金额|已退款金额|退款|refund amount|refunded amount|"
        "amount refunded|refund",
        "refunded_at": "退款时间|退款日期|售后时间|退款完成时间|refund time|refund date|refunded at",
        "original_order_id": "原订单号|原单号|原订单编号|原始订单号|关联订单号|original order|"
        "original order id|original order no|original invoice|refund of",
        "country": "国家|国家地区|国家/地区|country|country region|country/region",
        "province": "省份|省|所在省份|所在地区|地区|province|state|region",
        "cashier": "收银员|收银|营业员|导购|导购员|操作员|cashier|operator|clerk|sales clerk|"
        "salesperson|staff",
        "currency": "币种|货币|币别|currency|currency code",
        **_IDENTITY,
        "customer_name": _NAME,
        "gender": _GENDER,
        "city": _CITY,
        "address": _ADDRESS,
    },
    "customers": {
        **_IDENTITY,
        "name": _NAME,
        "gender": _GENDER,
        "birthday": "生日|出生日期|出生年月日|birthday|birth date|date of birth|dob",
        "city": _CITY,
        "address": _ADDRESS,
        "home_store_code": "门店|门店编码|所属门店|开卡门店|注册门店|归属门店|home store|store|"
        "store code",
        "signup_channel": "渠道|注册渠道|来源|来源渠道|channel|signup channel|source",
        "signed_up_at": "注册时间|注册日期|开卡时间|开卡日期|入会时间|入会日期|signed up|"
        "signed up at|signup date|registration date|registered at|join date|created at",
        "tags": "标签|会员标签|客户标签|tags|tag|labels",
    },
    "products": {
        "sku": _SKU,
        "name": "商品名称|品名|商品名|名称|商品|description|product name|item name|name|product|"
        "title",
        "category": "分类|类目|品类|商品分类|商品类目|类别|category|category path",
        "category_1": "一级分类|一级类目|大类|category 1|category1|department",
        "category_2": "二级分类|二级类目|中类|category 2|category2",
        "category_3": "三级分类|三级类目|小类|category 3|category3",
        "brand": "品牌|brand|make",
        "list_price": "价格|售价|零售价|标价|单价|吊牌价|price|list price|unit price|unitprice|"
        "retail price",
        "shelf_life": "保质期|保质期天数|保质天数|shelf life|shelf life days|shelflife",
    },
}

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    kind: {target: tuple(text.split("|")) for target, text in table.items()}
    for kind, table in _TABLES.items()
}

# Each entry is one requirement; a tuple names alternatives, any one of which will do.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "orders": (("order_id",), ("sku",), ("quantity",), ("unit_price", "amount"), ("ordered_at",)),
    "customers": (
        (
            "phone",
            "member_card",
            "external_account",
            "email",
            "wechat_openid",
            "wechat_unionid",
        ),
    ),
    "products": (("sku",), ("name",)),
}

_LABELS: dict[str, str] = {
    "order_id": "order id (订单号)",
    "sku": "SKU (商品编码)",
    "quantity": "quantity (数量)",
    "unit_price": "unit price (单价)",
    "amount": "line amount (金额)",
    "ordered_at": "order time (下单时间)",
    "name": "name (名称)",
    "phone": "phone (手机号)",
    "member_card": "member card (会员卡号)",
    "external_account": "customer id (客户编号)",
    "email": "e-mail (邮箱)",
    "wechat_openid": "openid",
    "wechat_unionid": "unionid",
}


class MissingColumns(PatronError):
    """The file lacks columns the kind needs; nothing has been written."""

    code = "missing_columns"


class BadMapping(InvalidInput):
    code = "bad_mapping"


_FOLD = re.compile(r"[\s_\-./:#·、]+")
_UNIT = re.compile(r"[(\[【].*?[)\]】]$")


def normalise_header(text: str) -> str:
    """``" Unit Price "``, ``"unit_price"`` and ``"UnitPrice"`` all become ``"unitprice"``."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return _FOLD.sub("", folded)


def _variants(text: str) -> list[str]:
    """The folded header, then the same without a trailing unit such as ``(元)``."""
    full = normalise_header(text)
    bare = _UNIT.sub("", full)
    return [full, bare] if bare and bare != full else [full]


def _alias_index(kind: str) -> dict[str, str]:
    """Folded alias → target; the first target to claim an alias keeps it."""
    index: dict[str, str] = {}
    for target, aliases in ALIASES[kind].items():
        for alias in (target, *aliases):
            index.setdefault(normalise_header(alias), target)
    return index


_INDEXES = {kind: _alias_index(kind) for kind in KINDS}


def label(target: str) -> str:
    return _LABELS.get(target, target)


@dataclass(frozen=True)
class ColumnMap:
    """Where each target field sits in the file's rows, and under which of its headers."""

    kind: str
    headers: tuple[str, ...]
    index: dict[str, int]
    ignored: tuple[str, ...] = field(default=())

    def header(self, target: str) -> str:
        """The file's own name for a target's column (what a report shows)."""
        position = self.index.get(target)
        return self.headers[position] if position is not None else ""

    def at(self, target: str) -> int | None:
        return self.index.get(target)

    def described(self) -> dict[str, str]:
        return {target: self.headers[i] for target, i in self.index.items()}


def resolve_columns(
    *, kind: str, headers: Sequence[str], mapping: Mapping[str, str] | None = None
) -> ColumnMap:
    """Match the file's headers to the kind's fields.

    ``mapping`` (target → the file's column) wins over the alias table; a target may be
    named by any of its aliases (``手机号=联系方式``). Raises :class:`BadMapping` for a
    mapping that names an unknown field or column, and :class:`MissingColumns` when a
    required field has no column, listing the headers found.
    """
    if kind not in ALIASES:
        raise BadMapping(
            "kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}", reason="unknown_kind"
        )
    alias_index = _INDEXES[kind]
    index: dict[str, int] = {}
    used: set[int] = set()

    for raw_target, column in (mapping or {}).items():
        target = alias_index.get(normalise_header(raw_target))
        if target is None:
            raise BadMapping(
                "map",
                f"{raw_target!r} is not a field of {kind}; fields: {', '.join(ALIASES[kind])}",
                reason="unknown_field",
                target=raw_target,
                fields=", ".join(ALIASES[kind]),
            )
        position = _find_header(headers, column)
        if position is None:
            raise BadMapping(
                "map",
                f"column {column!r} (for {target}) is not in the file; "
                f"columns found: {', '.join(headers)}",
                reason="unknown_column",
                column=column,
                target=target,
                headers=", ".join(headers),
            )
        index[target] = position
        used.add(position)

    for position, header in enumerate(headers):
        if position in used or not header:
            continue
        for variant in _variants(header):
            target = alias_index.get(variant)
            if target is not None and target not in index:
                index[target] = position
                used.add(position)
                break

    missing = [req for req in REQUIRED[kind] if not any(t in index for t in req)]
    if missing:
        wanted = "; ".join(" or ".join(label(t) for t in req) for req in missing)
        targets = ", ".join(t for req in missing for t in req)
        raise MissingColumns(
            f"the file has no column for: {wanted}. Columns found: "
            f"{', '.join(repr(h) for h in headers if h) or '(none)'}. "
            f"Name them with --map FIELD=COLUMN (FIELD: {targets}) or a --mapping-file.",
            missing=[list(req) for req in missing],
            wanted=wanted,
            headers=list(headers),
        )
    ignored = tuple(h for p, h in enumerate(headers) if h and p not in used)
    return ColumnMap(kind=kind, headers=tuple(headers), index=index, ignored=ignored)


def _find_header(headers: Sequence[str], column: str) -> int | None:
    if column in headers:
        return list(headers).index(column)
    wanted = normalise_header(column)
    for position, header in enumerate(headers):
        if normalise_header(header) == wanted:
            return position
    return None


def parse_map_options(items: Sequence[str]) -> dict[str, str]:
    """``["phone=联系方式", "order_id = 单据"]`` → ``{"phone": "联系方式", "order_id": "单据"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, column = item.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise BadMapping(
                "map", f"{item!r}: write --map target=Column", reason="malformed", item=item
            )
        mapping[target.strip()] = column.strip()
    return mapping


def load_mapping_file(path: Path, *, kind: str) -> dict[str, str]:
    """A TOML or JSON object of target → column.

    The object may be flat, or hold one table per kind (``[orders]``) or a ``[columns]``
    table, so one file can describe a whole system's exports.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadMapping(
            "mapping_file",
            f"cannot read {path}: {exc.strerror}",
            reason="mapping_file_unreadable",
            path=str(path),
        ) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadMapping(
            "mapping_file",
            f"{path.name} is not valid: {exc}",
            reason="mapping_file_invalid",
            path=str(path),
        ) from None
    if not isinstance(data, dict):
        raise BadMapping(
            "mapping_file",
            f"{path.name} must hold an object of target = column",
            reason="mapping_file_invalid",
            path=str(path),
        )
    for key in (kind, "columns"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    mapping = {k: v for k, v in data.items() if isinstance(v, str)}
    if not mapping:
        raise BadMapping(
            "mapping_file",
            f"{path.name} maps no columns for {kind}",
            reason="mapping_file_empty",
            path=str(path),
        )
    return mapping


# ----------------------------------------------------------------------------- cell values
# What the words in a cell mean. Keys are compared after normalise_header().

_V = TypeVar("_V")


def _folded(table: dict[str, _V]) -> dict[str, _V]:
    return {normalise_header(k): v for k, v in table.items()}


GENDERS: dict[str, str | None] = _folded(
    {
        **dict.fromkeys(["男", "男性", "先生", "m", "male", "man", "1"], "male"),
        **dict.fromkeys(["女", "女性", "女士", "f", "female", "woman", "2"], "female"),
        **dict.fromkeys(["其他", "other", "x"], "other"),
        # Said explicitly that it is not known: the same as a blank cell.
        **dict.fromkeys(["未知", "保密", "unknown", "u", "0", "-", "n/a"], None),
    }
)

PAYMENT_METHODS: dict[str, str] = _folded(
    {
        **dict.fromkeys(["现金", "cash"], "cash"),
        **dict.fromkeys(
            ["银行卡", "刷卡", "信用卡", "借记卡", "card", "bank card", "bankcard"], "bank_card"
        ),
        **dict.fromkeys(
            ["微信", "微信支付", "wechat", "wechat pay", "wechatpay", "wxpay"], "wechat_pay"
        ),
        **dict.fromkeys(["支付宝", "alipay"], "alipay"),
        **dict.fromkeys(["银联", "云闪付", "unionpay", "union pay"], "unionpay"),
        **dict.fromkeys(
            [
                "储值",
                "储值卡",
                "会员卡余额",
                "余额",
                "预付卡",
                "stored value",
                "storedvalue",
                "gift card",
            ],
            "stored_value",
        ),
        **dict.fromkeys(["混合", "组合", "组合支付", "mixed", "split"], "mixed"),
    }
)

CHANNELS: dict[str, str] = _folded(
    {
        **dict.fromkeys(
            ["门店", "线下", "店铺", "收银", "pos", "store", "offline", "instore"], "pos"
        ),
        **dict.fromkeys(
            [
                "线上",
                "网店",
                "电商",
                "官网",
                "商城",
                "天猫",
                "淘宝",
                "京东",
                "拼多多",
                "抖音",
                "online",
                "web",
                "ecommerce",
                "shop",
            ],
            "online",
        ),
        **dict.fromkeys(
            ["小程序", "微信小程序", "miniprogram", "mini program", "mini_program"], "mini_program"
        ),
        **dict.fromkeys(["电话", "热线", "phone", "telephone", "call"], "phone"),
    }
)

# What an order status cell says happened to the sale (compared after normalise_header):
# a sale; a sale refunded in full; a sale partly refunded; no sale at all (cancelled before
# payment, or closed unpaid). Other words are named by the user (--status 待评价=completed).
SALE, REFUNDED, PARTLY_REFUNDED, NO_SALE = "completed", "refunded", "partly_refunded", "cancelled"
STATUS_MEANINGS = (SALE, REFUNDED, PARTLY_REFUNDED, NO_SALE)
ORDER_STATUSES: dict[str, str] = _folded(
    {
        **dict.fromkeys(
            [
                "已完成", "完成", "交易成功", "交易完成", "已发货", "已收货", "已签收", "已付款",
                "已支付", "待发货", "待收货", "待评价", "已评价", "成功", "正常", "销售",
                "completed", "complete", "done", "success", "successful", "shipped",
                "delivered", "paid", "sale", "sold", "normal", "closed won",
            ],
            SALE,
        ),
        **dict.fromkeys(
            [
                "已退款", "全额退款", "全部退款", "退款成功", "退款完成", "已退货", "退货成功",
                "退货", "退款", "退单", "refunded", "fully refunded", "full refund",
                "refund successful", "refund", "returned", "return",
            ],
            REFUNDED,
        ),
        **dict.fromkeys(
            ["部分退款", "部分退货", "部分退款成功", "partially refunded", "partly refunded",
             "partial refund", "partially returned"],
            PARTLY_REFUNDED,
        ),
        **dict.fromkeys(
            [
                "已取消", "取消", "交易关闭", "已关闭", "关闭", "作废", "已作废", "未付款",
                "待付款", "cancelled", "canceled", "cancel", "closed", "void", "voided",
                "unpaid", "pending payment",
            ],
            NO_SALE,
        ),
    }
)  # fmt: skip

# A line's after-sale status: whether that line was refunded (True) or not (False).
AFTER_SALE_STATUSES: dict[str, bool] = _folded(
    {
        **dict.fromkeys(
            ["退款成功", "已退款", "退款完成", "退货成功", "已退货", "退货退款成功", "已退",
             "refunded", "refund successful", "returned", "refund completed"],
            True,
        ),
        **dict.fromkeys(
            ["无", "无售后", "-", "退款关闭", "售后关闭", "拒绝退款", "退款失败", "已拒绝",
             "退款中", "待处理", "处理中", "none", "no", "closed", "rejected", "refused",
             "pending", "in progress"],
            False,
        ),
    }
)  # fmt: skip

# The first cell of a totals row at the bottom of an export.
TOTALS_WORDS = frozenset(
    normalise_header(w) for w in ("合计", "总计", "小计", "汇总", "合计：", "total", "totals",
                                  "grand total", "sum", "subtotal")
)  # fmt: skip


def lookup_value(table: Mapping[str, Any], text: str) -> tuple[bool, Any]:
    """(known, meaning) of a cell in one of the tables above."""
    key = normalise_header(text)
    if key in table:
        return True, table[key]
    return False, None
