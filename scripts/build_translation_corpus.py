"""Build the English-to-French corpus for the bundled translator from Debian message catalogs.

Every program translated with gettext installs, per language, a compiled catalog
`/usr/share/locale/fr/LC_MESSAGES/<domain>.mo`: the English message as written
by the program's authors and its French translation by the Debian and upstream
translation teams. That is real human translation, offline, with the licence of
each package (recorded in the manifest: mostly GPL-2+/LGPL-2.1+, PostgreSQL and
BSD-style licences for the rest). The domain is narrow: software-interface
language ("The file could not be saved.").

The catalogs read are those of the packages in scripts/translation_packages.txt
(the ones a Debian bookworm system with this project's dependencies has; more
packages mean more pairs). Which catalogs are skipped and why: the ISO 639-3
language names (iso_639-3, iso_639_3: 7,900 mostly untranslated names of rare
languages, which would teach copying).

What is done to each message pair, and why:
- context prefixes (`msgctxt\\x04`) are dropped: the context is not part of the text;
- plural forms: the singular pairs with French form 0 and the plural with form 1 (French has two forms);
- multi-line messages (help texts) are split into line pairs when both sides have the same
  number of lines, and dropped otherwise (the lines would not align);
- keyboard accelerators (`_Open`, `&Open`) are removed: they mark a letter, not a word;
- markup (`<b>`, `<span ...>`) and pairs with control characters are dropped: the model should
  read sentences, and the page shows plain text;
- format placeholders (`%s`, `%1$d`, `{name}`) are kept: translators copy them, and they are the
  clearest case of word alignment in cross-attention;
- pairs where the French equals the English (untranslated names, commands), that have no letter,
  or longer than MAX_WORDS words on either side are dropped;
- whitespace is normalised (NFC, single spaces; French non-breaking spaces become spaces).

Exact duplicate pairs are removed. The split is by English text (case-insensitive), so a
sentence in the test split never appears in training with another translation: the pairs are
grouped by English, the groups shuffled with a fixed seed, and VALID_GROUPS + TEST_GROUPS
groups held out. Output: data/translation/{train,valid,test}.tsv (English TAB French) and
manifest.json (package versions, counts, sha256). The corpus is not committed;
tests/data/translation_test.tsv is a fixed sample of the test split for the quality test.

Usage: .venv/bin/python scripts/build_translation_corpus.py [--install] [--out data/translation]
"""

import argparse
import hashlib
import json
import random
import re
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import package_versions, read_packages  # noqa: E402  (one reader of package lists)

SEED = 20261202
VALID_GROUPS = 1500
TEST_GROUPS = 1500
MAX_WORDS = 40
ROOT = Path(__file__).resolve().parent.parent
PACKAGES_FILE = ROOT / "scripts" / "translation_packages.txt"
LOCALE_DIR = Path("/usr/share/locale")
SKIP_DOMAINS = {"iso_639-3", "iso_639_3"}

ACCELERATOR = re.compile(r"(?<![\w&_])[_&](?=\w)")
MARKUP = re.compile(r"</?[a-zA-Z][^<>]*>")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def read_mo(path: Path) -> dict[str, str]:
    """A compiled gettext catalog -> {msgid: msgstr}, read by its documented binary layout.

    Header: magic, revision, N, offset of the original-string table, offset of the translation
    table; each table holds N (length, offset) pairs. The byte order is given by the magic.
    """
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    _, _, n, orig_at, trans_at = struct.unpack(order + "5I", data[:20])
    catalog = {}
    for i in range(n):
        o_len, o_off = struct.unpack(order + "2I", data[orig_at + 8 * i: orig_at + 8 * i + 8])
        t_len, t_off = struct.unpack(order + "2I", data[trans_at + 8 * i: trans_at + 8 * i + 8])
        catalog[data[o_off: o_off + o_len].decode("utf-8", "replace")] = data[t_off: t_off + t_len].decode(
            "utf-8", "replace")
    return catalog


def package_of(path: Path) -> str:
    out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    return out.stdout.split(":", 1)[0].strip() or "unknown"


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u202f", " ")
    text = ACCELERATOR.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def message_pairs(msgid: str, msgstr: str) -> list[tuple[str, str]]:
    """One catalog entry -> the (English, French) pairs it contributes, cleaned; [] when unusable."""
    if not msgid or not msgstr:
        return []                                            # the header entry, or untranslated
    msgid = msgid.split("\x04", 1)[-1]                       # drop the context
    english, french = msgid.split("\x00"), msgstr.split("\x00")
    units = [(english[0], french[0])]
    if len(english) > 1 and len(french) > 1:
        units.append((english[1], french[1]))
    pairs = []
    for en, fr in units:
        en_lines, fr_lines = en.strip("\n").split("\n"), fr.strip("\n").split("\n")
        if len(en_lines) != len(fr_lines):
            continue
        for en_line, fr_line in zip(en_lines, fr_lines):
            if MARKUP.search(en_line) or MARKUP.search(fr_line):
                continue
            if CONTROL.search(en_line) or CONTROL.search(fr_line):
                continue
            en_line, fr_line = clean(en_line), clean(fr_line)
            if not en_line or not fr_line or en_line == fr_line:
                continue
            if not re.search(r"[A-Za-z]", en_line):
                continue
            if len(en_line.split()) > MAX_WORDS or len(fr_line.split()) > MAX_WORDS:
                continue
            pairs.append((en_line, fr_line))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--install", action="store_true", help="apt-get install the package list (root)")
    parser.add_argument("--out", default=str(ROOT / "data" / "translation"))
    args = parser.parse_args()
    packages = read_packages(PACKAGES_FILE)
    if args.install:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], check=True)

    pairs: dict[tuple[str, str], None] = {}
    per_domain: dict[str, int] = {}
    owners: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / "fr" / "LC_MESSAGES").glob("*.mo")):
        if path.stem in SKIP_DOMAINS:
            continue
        before = len(pairs)
        for msgid, msgstr in sorted(read_mo(path).items()):
            for pair in message_pairs(msgid, msgstr):
                pairs.setdefault(pair)
        per_domain[path.stem] = len(pairs) - before
        owners[path.stem] = package_of(path)

    groups: dict[str, list[tuple[str, str]]] = {}
    for en, fr in pairs:
        groups.setdefault(en.lower(), []).append((en, fr))
    keys = sorted(groups)
    random.Random(SEED).shuffle(keys)
    held = VALID_GROUPS + TEST_GROUPS
    splits = {"valid": keys[:VALID_GROUPS], "test": keys[VALID_GROUPS:held], "train": keys[held:]}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    used_packages = sorted(set(owners.values()) | set(packages))
    manifest = {"seed": SEED, "max_words": MAX_WORDS, "skipped_domains": sorted(SKIP_DOMAINS),
                "packages": package_versions(used_packages),
                "new_pairs_per_domain": per_domain, "domain_package": owners, "files": {}}
    for split, split_keys in splits.items():
        rows = [pair for key in split_keys for pair in groups[key]]
        path = out / f"{split}.tsv"
        path.write_text("".join(f"{en}\t{fr}\n" for en, fr in rows), encoding="utf-8")
        manifest["files"][path.name] = {
            "pairs": len(rows), "english_words": sum(len(en.split()) for en, _ in rows),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(manifest["files"], indent=2))


if __name__ == "__main__":
    main()
