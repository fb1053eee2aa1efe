"""Checks the reader corpus: labels <-> files, From == customer_email, unique txn and
Message-ID, required keys, parseable MIME with a readable body, value ranges."""
import email, glob, os, sys, tomllib, datetime, collections
from email import policy
from email.utils import parseaddr, parsedate_to_datetime

# Usage: python3 check_labels.py [FOLDER [LANG,LANG...]]  (defaults: this folder, every LANG.toml in it)
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
LANGS = sys.argv[2].split(",") if len(sys.argv) > 2 else sorted(
    os.path.basename(p)[:-5] for p in glob.glob(os.path.join(ROOT, "*.toml")))
MERCH = {"app-studio": ("by-app-studio", "BYN", "refunds@app-studio.example"),
         "saas-kz": ("kz-saas-subscription", "KZT", "refunds@saas-kz.example"),
         "byskills": ("by-online-courses", "BYN", "refunds@byskills.example"),
         "goods-kz": ("kz-goods-store", "KZT", "refunds@goods-kz.example"),
         "webshop-lv": ("lv-webshop", "EUR", "atmaksa@webshop-lv.example")}
REASONS = {"withdrawal", "not_delivered", "force_majeure", "erroneous_charge", "out_of_stock_difference", "advance_balance", "unclear"}
TAGS = {"negation", "question", "conditional", "quote", "forward", "html", "typo", "translit", "sarcasm", "mixed",
        "force_majeure_plain", "double_charge_digits", "progress_stated", "not_received_wording", "no_diacritics"}
REQ = ["file", "language", "merchant", "policy", "txn", "amount", "currency", "paid_days_ago", "customer_email", "reason", "auto_payout_ok", "tags", "note"]
OPT = {"progress_percent", "order_accepted", "goods_received", "access_started"}
errors = []
def err(s): errors.append(s)
txns, mids = collections.Counter(), collections.Counter()
stats = collections.Counter()
for lang in LANGS:
    with open(os.path.join(ROOT, f"{lang}.toml"), "rb") as f:
        labels = tomllib.load(f)["email"]
    files = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, lang, "*.eml"))}
    labelled = [l.get("file") for l in labels]
    for dup in [x for x, c in collections.Counter(labelled).items() if c > 1]:
        err(f"{dup}: labelled twice")
    for miss in sorted(files - set(labelled)):
        err(f"{miss}: file without label")
    for l in labels:
        fn = l.get("file", "?")
        for k in REQ:
            if k not in l: err(f"{fn}: missing key {k}")
        for k in l:
            if k not in REQ and k not in OPT: err(f"{fn}: unknown key {k}")
        if fn not in files: err(f"{fn}: label without file"); continue
        if not fn.isascii(): err(f"{fn}: non-ASCII file name")
        m = l["merchant"]
        if m not in MERCH: err(f"{fn}: unknown merchant {m}"); continue
        pol, cur, to = MERCH[m]
        if l["policy"] != pol: err(f"{fn}: policy {l['policy']} != {pol}")
        if l["currency"] != cur: err(f"{fn}: currency")
        if l["reason"] not in REASONS: err(f"{fn}: reason {l['reason']}")
        if l["reason"] == "unclear" and l["auto_payout_ok"]: err(f"{fn}: unclear but auto")
        if set(l["tags"]) - TAGS: err(f"{fn}: unknown tags {set(l['tags']) - TAGS}")
        if ("question" in l["tags"] or "conditional" in l["tags"]) and l["auto_payout_ok"]: err(f"{fn}: question/conditional but auto")
        if not (1 <= l["paid_days_ago"] <= 60): err(f"{fn}: paid_days_ago")
        a = l["amount"]
        if not (isinstance(a, str) and a.count(".") == 1 and len(a.split(".")[1]) == 2 and a.replace(".", "").isdigit()): err(f"{fn}: amount {a!r}")
        if not l["language"] in ("lv", "en", "ru", "kk"): err(f"{fn}: language")
        if l["auto_payout_ok"] and m in ("saas-kz", "goods-kz", "webshop-lv"): err(f"{fn}: auto payout under a pack that cannot pay from an email alone")
        txns[l["txn"]] += 1
        raw = open(os.path.join(ROOT, fn), "rb").read()
        msg = email.message_from_bytes(raw, policy=policy.default)
        frm = parseaddr(str(msg["From"]))[1]
        if frm != l["customer_email"]: err(f"{fn}: From {frm} != {l['customer_email']}")
        if parseaddr(str(msg["To"]))[1] != to: err(f"{fn}: To {msg['To']}")
        mid = str(msg["Message-ID"]); mids[mid] += 1
        num = os.path.basename(fn)[:3]
        if mid != f"<reader-{lang}-{num}@example.com>": err(f"{fn}: Message-ID {mid}")
        d = parsedate_to_datetime(str(msg["Date"]))
        if (d.year, d.month) != (2026, 12): err(f"{fn}: Date {d}")
        for h in ("Subject", "MIME-Version", "Content-Type"):
            if msg[h] is None: err(f"{fn}: no {h}")
        body = msg.get_body(("plain", "html"))
        if body is None: err(f"{fn}: no body"); continue
        text = body.get_content()
        if len(text.strip()) < 10: err(f"{fn}: empty body")
        if "\ufffd" in text: err(f"{fn}: undecodable characters")
        if "{txn}" in text: err(f"{fn}: unsubstituted placeholder")
        if "access_started" in l:
            acc = datetime.date.fromisoformat(l["access_started"])
            paid = d.date() - datetime.timedelta(days=l["paid_days_ago"])
            if not (paid <= acc): err(f"{fn}: access_started {acc} before the payment {paid}")
        stats[(lang, "n")] += 1
        stats[(lang, "m", m)] += 1
        stats[(lang, "r", l["reason"])] += 1
        stats[(lang, "auto", l["auto_payout_ok"])] += 1
        stats[(lang, "ctype", body.get_content_type() + "/" + str(msg.get_content_type()))] += 1
        stats[(lang, "cs", body.get_content_charset())] += 1
        stats[(lang, "cte", str(body.get("Content-Transfer-Encoding", "7bit")))] += 1
        for t in l["tags"]: stats[(lang, "t", t)] += 1
for t, c in txns.items():
    if c > 1: err(f"txn {t} used {c} times")
for t, c in mids.items():
    if c > 1: err(f"Message-ID {t} used {c} times")
for lang in LANGS:
    n = stats[(lang, "n")]
    print(f"== {lang}: {n} emails")
    for kind, title in (("m", "merchants"), ("r", "reasons"), ("auto", "auto_payout_ok"), ("t", "tags"), ("ctype", "body/top content type"), ("cs", "charsets"), ("cte", "transfer encodings")):
        items = sorted((k[2], v) for k, v in stats.items() if k[0] == lang and k[1] == kind)
        print(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in items))
    unclear = stats[(lang, "r", "unclear")]
    print(f"  unclear: {unclear}/{n} ({100*unclear/n:.0f} %); not auto-payable: {stats[(lang,'auto',False)]}/{n} ({100*stats[(lang,'auto',False)]/n:.0f} %)")
    for m in MERCH:
        if stats[(lang, "m", m)] < 8: err(f"{lang}: only {stats[(lang,'m',m)]} emails for {m}")
print("errors:", len(errors))
for e in errors: print("  ", e)
sys.exit(1 if errors else 0)
