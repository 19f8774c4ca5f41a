"""Regenerate examples/buyers.csv (the sample sheet) and examples/seed_buyers.sql (a stale table).

Deterministic (fixed seed): ``python examples/make_buyers.py``. The sheet has 200 buyers
(6500-6699); the seed makes public.buyers a STALE copy of it for the demo and the tests:

- buyers 6695-6699 are only in the sheet (new rows); 6700 and 6701 only in the table (missing rows);
- 15 buyers differ in 1-3 fields; buyer 6666's viewing follow-up and assignee are out of date;
- every other row is equal after the transforms of rules/buyers_file.yaml, which this script
  mirrors in ``table_value`` (trim, NFKC, empty -> NULL, dates, the status map, ...);
- a few cells are awkward on purpose: full-width digits in phone numbers, half-width kana,
  stray spaces, upper-case e-mails (compared ignoring case), blank cells, and two family
  sizes written "三人" that to_integer rejects (reported as invalid; the table keeps its value).
"""
from __future__ import annotations

import csv
import random
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADERS = ["買主番号", "氏名", "フリガナ", "電話番号", "メール", "ステータス", "予算（万円）", "希望エリア", "内覧日",
           "内覧結果・後続対応", "後続担当", "次回連絡日時", "ペット可", "家族人数", "備考"]
COLUMNS = ["buyer_number", "name", "name_kana", "phone", "email", "status", "budget_man_yen", "desired_area",
           "viewing_date", "viewing_result_follow_up", "follow_up_assignee", "next_contact_at", "pet_allowed",
           "family_size", "notes"]
SURNAMES = [("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
            ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
            ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"), ("小林", "コバヤシ", "kobayashi"),
            ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"), ("山田", "ヤマダ", "yamada")]
GIVEN = [("太郎", "タロウ", "taro"), ("花子", "ハナコ", "hanako"), ("健一", "ケンイチ", "kenichi"),
         ("美咲", "ミサキ", "misaki"), ("大輔", "ダイスケ", "daisuke"), ("陽子", "ヨウコ", "yoko"),
         ("翔太", "ショウタ", "shota"), ("由美", "ユミ", "yumi"), ("誠", "マコト", "makoto"), ("愛", "アイ", "ai")]
AREAS = ["世田谷区", "目黒区", "杉並区", "練馬区", "川崎市中原区", "横浜市港北区", "武蔵野市", "品川区", "江東区", ""]
STATUS = {"追客中": "active", "成約": "closed", "見送り": "dropped"}
FOLLOW_UPS = ["", "資料送付済み", "2回目内覧希望", "ローン事前審査中", "他物件と比較中", "条件合わず見送り", "申込検討中"]
ASSIGNEES = ["", "田中", "佐々木", "山口", "松本", "井上"]
PETS = {"はい": True, "○": True, "いいえ": False, "×": False, "": None}
NOTES = ["", "", "", "駅徒歩10分以内希望", "駐車場必須", "南向き希望", "学区重視", "リフォーム前提で検討"]
NEW_ONLY = range(6695, 6700)
DIFFERING = [6503, 6511, 6524, 6537, 6542, 6558, 6561, 6579, 6590, 6604, 6613, 6627, 6641, 6652, 6688]
INVALID_FAMILY = (6533, 6617)
WATCHED = 6666
HALF_KANA = str.maketrans({"タ": "ﾀ", "ロ": "ﾛ", "ウ": "ｳ", "カ": "ｶ", "ナ": "ﾅ", "サ": "ｻ", "ト": "ﾄ"})


def sheet_row(rng: random.Random, number: int) -> dict[str, str]:
    """One buyer as the sheet shows it (text cells)."""
    surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
    kana = f"{surname[1]} {given[1]}"
    phone = f"090-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    email = f"{given[2]}.{surname[2]}{number}@example.jp"
    viewing = date(2024, 5, 1) + timedelta(days=rng.randrange(0, 120))
    contact = datetime(2024, 9, 1, 10) + timedelta(days=rng.randrange(0, 60), hours=rng.randrange(0, 8))
    row = {
        "buyer_number": str(number),
        "name": f"{surname[0]} {given[0]}",
        "name_kana": kana.translate(HALF_KANA) if number % 23 == 0 else kana,
        "phone": unicodedata.normalize("NFKC", phone).translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
        if number % 29 == 0 else phone,
        "email": email.capitalize() if number % 13 == 0 else email,
        "status": rng.choice(list(STATUS)),
        "budget_man_yen": f"{rng.randrange(30, 120) * 100:,}" if number % 3 else str(rng.randrange(3000, 12000)),
        "desired_area": rng.choice(AREAS),
        "viewing_date": "" if number % 7 == 0 else viewing.strftime("%Y/%m/%d" if number % 2 else "%Y-%m-%d"),
        "viewing_result_follow_up": rng.choice(FOLLOW_UPS),
        "follow_up_assignee": rng.choice(ASSIGNEES),
        "next_contact_at": "" if number % 5 == 0 else contact.strftime("%Y/%m/%d %H:%M"),
        "pet_allowed": rng.choice(list(PETS)),
        "family_size": str(rng.randrange(1, 6)),
        "notes": rng.choice(NOTES) + (" " if number % 11 == 0 else ""),
    }
    if number == WATCHED:
        row.update(viewing_result_follow_up="2回目内覧希望・金曜に電話", follow_up_assignee="田中", status="追客中")
    if number in INVALID_FAMILY:
        row["family_size"] = "三人"
    return row


def table_value(column: str, text: str):
    """The sheet cell after rules/buyers_file.yaml's transforms, as SQL-ready Python (None = NULL)."""
    text = text.strip()
    if column in ("name_kana", "phone", "desired_area", "follow_up_assignee", "family_size", "budget_man_yen"):
        text = unicodedata.normalize("NFKC", text).strip()
    if text == "":
        return None
    if column == "status":
        return STATUS[text]
    if column == "email":
        return text.lower()  # the app stores e-mails in lower case; compared ignoring case
    if column == "budget_man_yen":
        return text.replace(",", "")
    if column == "viewing_date":
        return text.replace("/", "-")
    if column == "next_contact_at":
        return text.replace("/", "-") + ":00+09"
    if column == "pet_allowed":
        return PETS[text]
    if column == "family_size":
        return int(text) if text.isdigit() else 3  # "三人": the table already says 3
    return text


def stale(rng: random.Random, number: int, row: dict[str, object]) -> dict[str, object]:
    """The table's out-of-date copy of a differing buyer: 1-3 fields changed."""
    row = dict(row)
    if number == WATCHED:
        row.update(viewing_result_follow_up=None, follow_up_assignee="未定")
        return row
    changes = {
        "status": "active" if row["status"] != "active" else "dropped",
        "desired_area": "未定",
        "viewing_result_follow_up": "資料送付済み" if row["viewing_result_follow_up"] != "資料送付済み" else None,
        "follow_up_assignee": None,
        "notes": "旧メモ",
        "budget_man_yen": str(int(float(str(row["budget_man_yen"]))) + 200) if row["budget_man_yen"] else "5000",
        "phone": "03-0000-0000",
    }
    candidates = [c for c in sorted(changes) if changes[c] != row[c]]
    for column in rng.sample(candidates, rng.randrange(1, 4)):
        row[column] = changes[column]
    return row


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def main() -> None:
    rng = random.Random(6666)
    sheet = [sheet_row(rng, n) for n in range(6500, 6700)]
    with (HERE / "buyers.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADERS)
        writer.writerows([row[c] for c in COLUMNS] for row in sheet)
    table = []
    for row in sheet:
        number = int(row["buyer_number"])
        if number in NEW_ONLY:
            continue
        typed = {c: table_value(c, row[c]) for c in COLUMNS}
        table.append(stale(rng, number, typed) if number in DIFFERING or number == WATCHED else typed)
    table += [{**{c: None for c in COLUMNS}, "buyer_number": n, "name": name, "status": "closed"}
              for n, name in (("6700", "木村 直樹"), ("6701", "林 さくら"))]
    lines = ["-- A STALE copy of examples/buyers.csv for public.buyers (sql/buyers.sql); generated by",
             "-- examples/make_buyers.py. 195 of the sheet's 200 buyers (6695-6699 are new in the sheet),",
             "-- 15 buyers differing in 1-3 fields, buyer 6666's follow-up fields out of date, and",
             "-- 6700/6701 that the sheet no longer has.",
             f"INSERT INTO public.buyers ({', '.join(COLUMNS)}) VALUES"]
    values = [f"  ({', '.join(sql_literal(r[c]) for c in COLUMNS)})" for r in table]
    (HERE / "seed_buyers.sql").write_text("\n".join(lines) + "\n" + ",\n".join(values) + ";\n", encoding="utf-8")


if __name__ == "__main__":
    main()
