#!/usr/bin/env python3
"""Checks the reader corpus: every label has a file and every file a label, each .eml parses,
From equals the label's customer_email, To is the merchant's refunds address, txn and
Message-ID are unique, required keys and values are well-formed.

Usage: python3 shared/tests/corpus/reader/check_labels.py [ru kk lv en]
(without arguments: every <lang>.toml next to this script)."""
import email, glob, os, re, sys, tomllib
from email import policy
from email.utils import parseaddr, parsedate_to_datetime

HERE = os.path.dirname(os.path.abspath(__file__))
MERCHANTS = {
    "app-studio": ("by-app-studio", "BYN", "refunds@app-studio.example"),
    "saas-kz": ("kz-saas-subscription", "KZT", "refunds@saas-kz.example"),
    "byskills": ("by-online-courses", "BYN", "refunds@byskills.example"),
    "goods-kz": ("kz-goods-store", "KZT", "refunds@goods-kz.example"),
    "webshop-lv": ("lv-webshop", "EUR", "atmaksa@webshop-lv.example"),
}
REASONS = {"withdrawal", "not_delivered", "force_majeure", "erroneous_charge",
           "out_of_stock_difference", "advance_balance", "unclear"}
TAGS = {"negation", "question", "conditional", "quote", "forward", "html", "typo", "translit",
        "sarcasm", "mixed", "force_majeure_plain", "double_charge_digits", "progress_stated",
        "not_received_wording", "no_diacritics"}
REQUIRED = ["file", "language", "merchant", "policy", "txn", "amount", "currency", "paid_days_ago",
            "customer_email", "reason", "auto_payout_ok", "tags", "note"]
OPTIONAL = {"progress_percent", "order_accepted", "goods_received", "access_started"}


def summary(all_labels):
    from collections import Counter
    for key in ("language", "merchant", "reason", "auto_payout_ok"):
        c = Counter(str(l.get(key)) for l in all_labels)
        print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    n = len(all_labels) or 1
    unclear = sum(l.get("reason") == "unclear" for l in all_labels)
    no_auto = sum(not l.get("auto_payout_ok") for l in all_labels)
    print(f"unclear: {unclear}/{n} ({100 * unclear / n:.0f} %), auto_payout_ok = false: {no_auto}/{n} ({100 * no_auto / n:.0f} %)")
    tags = Counter(t for l in all_labels for t in l.get("tags", []))
    print("tags: " + ", ".join(f"{k} {v}" for k, v in sorted(tags.items())))


def main(langs):
    errors, txns, mids, total = [], {}, {}, 0
    all_labels = []
    for lang in langs:
        labels = tomllib.load(open(os.path.join(HERE, f"{lang}.toml"), "rb"))["email"]
        all_labels += labels
        print(f"== {lang}: {len(labels)} labels")
        summary(labels)
        files = {os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, lang, "*.eml"))}
        seen = set()
        for lab in labels:
            total += 1
            f = lab.get("file", "?")
            err = lambda msg: errors.append(f"{f}: {msg}")
            for k in REQUIRED:
                if k not in lab:
                    err(f"missing key {k}")
            for k in lab:
                if k not in REQUIRED and k not in OPTIONAL:
                    err(f"unknown key {k}")
            if f in seen:
                err("labelled twice")
            seen.add(f)
            if f not in files:
                err("no such file"); continue
            if not re.fullmatch(rf"{lang}/\d{{3}}_[a-z0-9_]+\.eml", f):
                err("file name is not <lang>/NNN_short_name.eml")
            m = lab.get("merchant")
            if m not in MERCHANTS:
                err(f"unknown merchant {m}"); continue
            pol, cur, to = MERCHANTS[m]
            if lab.get("policy") != pol: err(f"policy {lab.get('policy')} != {pol}")
            if lab.get("currency") != cur: err(f"currency {lab.get('currency')} != {cur}")
            if lab.get("language") not in {"ru", "kk", "lv", "en"}: err("bad language")
            if not re.fullmatch(r"\d+\.\d\d", str(lab.get("amount", ""))): err("amount not like 450.00")
            d = lab.get("paid_days_ago")
            if not (isinstance(d, int) and 1 <= d <= 60): err("paid_days_ago not 1..60")
            if lab.get("reason") not in REASONS: err(f"bad reason {lab.get('reason')}")
            if lab.get("reason") == "unclear" and lab.get("auto_payout_ok"): err("unclear but auto_payout_ok")
            if not isinstance(lab.get("auto_payout_ok"), bool): err("auto_payout_ok not bool")
            for t in lab.get("tags", []):
                if t not in TAGS: err(f"unknown tag {t}")
            if "progress_percent" in lab and not (0 <= lab["progress_percent"] <= 100): err("progress out of range")
            if "access_started" in lab and not re.fullmatch(r"\d{4}-\d\d-\d\d", lab["access_started"]): err("access_started not a date")
            t = lab.get("txn")
            if t in txns: err(f"txn {t} also in {txns[t]}")
            txns[t] = f
            raw = open(os.path.join(HERE, f), "rb").read()
            msg = email.message_from_bytes(raw, policy=policy.default)
            frm = parseaddr(str(msg["From"]))[1]
            if frm != lab.get("customer_email"): err(f"From {frm} != customer_email {lab.get('customer_email')}")
            if parseaddr(str(msg["To"]))[1] != to: err(f"To is not {to}")
            mid = str(msg["Message-ID"])
            if mid != f"<reader-{lang}-{f.split('/')[1][:3]}@example.com>": err(f"Message-ID {mid}")
            if mid in mids: err(f"Message-ID also in {mids[mid]}")
            mids[mid] = f
            dt = parsedate_to_datetime(str(msg["Date"]))
            if (dt.year, dt.month) != (2026, 12): err("Date not in Dec 2026")
            if not msg["Subject"]: err("no Subject")
            for part in msg.walk():
                cte = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
                if cte not in {"7bit", "8bit", "quoted-printable", "base64"}:
                    err(f"bad Content-Transfer-Encoding {cte}")
            body = msg.get_body(("plain", "html"))
            if body is None: err("no text body"); continue
            text = body.get_content()
            if len(text.strip()) < 20: err("body too short")
            if "\ufffd" in text: err("undecodable characters in body")
        for f in sorted(files - seen):
            errors.append(f"{f}: file without a label")
    if len(langs) > 1:
        print("== all")
        summary(all_labels)
    for e in errors:
        print("ERROR", e)
    print(f"{total} labels checked, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    langs = sys.argv[1:] or sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(HERE, "*.toml")))
    sys.exit(main(langs))
