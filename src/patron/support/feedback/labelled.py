"""Labelled feedback files: one text a row with its sentiment (and, if given, a category),
as a shop exports them from a spreadsheet or as public review sets come.

Columns are found by name, in English or Chinese (review / 评价 / 内容 …, label / 标签 /
情感 …, cat / 类别 / 品类 …); the file may be UTF-8 (with or without a BOM) or GBK.
A row that cannot be read is set aside with its row number, column and reason; the others
are kept.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from patron.support.exceptions import InvalidFeedback

TEXT_COLUMNS = ("review", "text", "comment", "feedback", "评价", "评论", "内容", "反馈", "文本")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "标签", "情感", "倾向", "极性")
CATEGORY_COLUMNS = ("cat", "category", "类别", "品类", "分类", "类目")

_POSITIVE = {"1", "pos", "positive", "正", "正面", "好评", "积极", "满意"}
_NEGATIVE = {"0", "-1", "neg", "negative", "负", "负面", "差评", "消极", "不满意"}
MAX_TEXT = 20_000  # characters; a longer cell is a pasted document, not a review


@dataclass(frozen=True, slots=True)
class Reject:
    row: int  # in the file, the header being row 1
    column: str
    reason: str


@dataclass
class LabelledSet:
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # 1 positive, 0 negative
    categories: list[str] = field(default_factory=list)  # "" when the file has none
    rejects: list[Reject] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def read_label(value: str) -> int | None:
    v = value.strip().lower()
    if v in _POSITIVE:
        return 1
    if v in _NEGATIVE:
        return 0
    return None


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidFeedback("file", f"{path.name} is neither UTF-8 nor GBK text")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_labelled(path: Path) -> LabelledSet:
    """Read a CSV of labelled texts; raises only when the file itself cannot be used."""
    if not path.is_file():
        raise InvalidFeedback("file", f"no file at {path}")
    rows = csv.reader(io.StringIO(_decode(path.read_bytes(), path), newline=""))
    header = next(rows, None)
    if header is None:
        raise InvalidFeedback("file", f"{path.name} is empty")
    text_at = _column(header, TEXT_COLUMNS)
    label_at = _column(header, LABEL_COLUMNS)
    if text_at is None:
        raise InvalidFeedback("review", f"{path.name} has no text column (review, 评价, 内容 …)")
    if label_at is None:
        raise InvalidFeedback("label", f"{path.name} has no label column (label, 标签, 情感 …)")
    category_at = _column(header, CATEGORY_COLUMNS)
    out = LabelledSet()
    text_name, label_name = header[text_at].strip(), header[label_at].strip()
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) <= max(text_at, label_at):
            out.rejects.append(Reject(number, text_name, "the row has too few columns"))
            continue
        text = row[text_at].strip()
        if not text:
            out.rejects.append(Reject(number, text_name, "no text"))
            continue
        if len(text) > MAX_TEXT:
            out.rejects.append(Reject(number, text_name, f"longer than {MAX_TEXT} characters"))
            continue
        label = read_label(row[label_at])
        if label is None:
            out.rejects.append(
                Reject(number, label_name, f"{row[label_at].strip()!r} is not 1/0 or 正面/负面")
            )
            continue
        out.texts.append(text)
        out.labels.append(label)
        out.categories.append(
            row[category_at].strip() if category_at is not None and category_at < len(row) else ""
        )
    return out
