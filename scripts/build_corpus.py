"""Build the English training corpus for the bundled MLM head and decoder.

The corpus comes only from Debian packages (the Hugging Face hub and the web
are unreachable here), listed in scripts/corpus_packages.txt. The cloze test
(tests/data/cloze.tsv) is everyday English, so the mix favours everyday modern
sentences and keeps archaic English a minority:

| source | package | what we keep | licence |
| --- | --- | --- | --- |
| WordNet 3.0 | wordnet-base | the example sentences of every synset (everyday modern usage, the best fit for the cloze test) and the glosses, written "word: gloss." | WordNet 3.0 licence (Princeton; BSD-like, redistribution allowed with notice) |
| fortune cookies | fortunes (NOT fortunes-off) | every cookie of the English, non-offensive files, minus ASCII art | BSD fortune-mod collection; Debian main, freely redistributable |
| Python 3.11 docs | python3.11-doc | prose paragraphs of the reStructuredText sources (tutorial, FAQ, HOWTOs, glossary, what's new, language and library reference), markup and code removed | PSF Licence Agreement (Python documentation) |
| Jargon File 4.4.7 | jargon-text | prose paragraphs of the plain-text edition | public domain |
| King James Bible | bible-kjv-text (+ bible-kjv to decompress it) | verses, capped at KJV_SHARE of the corpus characters | text public domain; Debian packaging GPL-2+ |
| Ding German-English dictionary | trans-de-en | the English example sentences of the entries ("If it rains, we'll stay at home."): whole sentences of at least four words, no placeholders (sb./sth.), no alternatives with "/", no bracketed notes | GPL-2+ (Frank Richter, TU Chemnitz) |
| Ding, phrases | trans-de-en | the lowercase English phrases of three words or more of the same entries ("to fold an umbrella", "to season dishes to taste with salt and pepper"), each once, same filters; training split only | GPL-2+ |

Ding is there for everyday spoken English, which the other sources lack: its
examples are the sentences a phrase book would give, the register of the cloze
test and of a teacher's demo sentences. Its phrases (86 k, 1.9 M characters;
many are technical compounds) carry the collocations of everyday things that
the glosses define but rarely use ("to put up an umbrella", "to fall asleep").

The phrases came last (7 Dec 2026), after the bundled models had been measured
on valid.txt: they go into the training split only, and the other sources are
split exactly as before, so valid.txt is byte for byte what the cards' held-out
figures were measured on (manifest.json's sha256) and no held-out line was
trained on by a model started from earlier shipped weights.

Held out: any line that contains a cloze sentence of tests/data/cloze.tsv (its
words on both sides of the [MASK], with any word in the gap) or a sentence of
tests/data/everyday_paragraphs.txt is dropped, so the test sets stay unseen.

Left out on purpose: GCIDE (dict-gcide; Webster's 1913, archaic definitions,
GPL) and fortunes-off.

Each line of the output is one unit of text (a sentence, a verse, a cookie or
a paragraph), whitespace normalised, exact duplicates (case-insensitive)
removed, shuffled with a fixed seed, and split into data/corpus/train.txt and
data/corpus/valid.txt (the last VALID_LINES lines of the shuffle). The same
package versions give the same files byte for byte; data/corpus/manifest.json
records the versions, counts and sha256 of both files.

Usage: .venv/bin/python scripts/build_corpus.py [--install] [--out data/corpus]
(--install runs apt-get update + apt-get install of the package list; root).
"""

import argparse
import gzip
import hashlib
import json
import random
import re
import subprocess
import unicodedata
from pathlib import Path

SEED = 20240601
VALID_LINES = 4000
KJV_SHARE = 0.10  # at most this fraction of the other split sources' characters comes from the KJV
TRAIN_ONLY = ("ding-phrases",)  # added to the training split only: valid.txt stays what the cards were measured on
ROOT = Path(__file__).resolve().parent.parent
PACKAGES_FILE = ROOT / "scripts" / "corpus_packages.txt"

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNE_DIR = Path("/usr/share/games/fortunes")
FORTUNE_SKIP = {"art", "ascii-art", "translate-me"}
PYDOC_DIR = Path("/usr/share/doc/python3.11/html/_sources")
PYDOC_PARTS = ("tutorial", "faq", "howto", "glossary.rst.txt", "whatsnew", "reference", "library")
JARGON_FILE = Path("/usr/share/doc/jargon-text/jargon.txt.gz")
DING_FILE = Path("/usr/share/trans/de-en")
CLOZE_FILE = ROOT / "tests" / "data" / "cloze.tsv"
PARAGRAPHS_FILE = ROOT / "tests" / "data" / "everyday_paragraphs.txt"


def read_packages(path: Path = PACKAGES_FILE) -> list[str]:
    """The package names of a list file: one per line, '#' starts a comment."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def install(packages: list[str]) -> None:
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], check=True,
                   env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def package_versions(packages: list[str]) -> dict[str, str]:
    versions = {}
    for name in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        versions[name] = out.stdout.strip() or "not installed"
    return versions


def normalise(text: str) -> str:
    """NFKC, typographic quotes to ASCII, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2014", " - ").replace("\u2013", "-")
    return re.sub(r"\s+", " ", text).strip()


def looks_like_prose(text: str, min_words: int = 3) -> bool:
    """Mostly letters and spaces, enough words: drops code, tables and art."""
    if len(text.split()) < min_words:
        return False
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    return letters / len(text) >= 0.85


def wordnet_lines() -> list[str]:
    """Synset example sentences, and glosses as 'word: gloss.'"""
    lines = []
    for pos in ("noun", "verb", "adj", "adv"):
        for raw in (WORDNET_DIR / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if raw.startswith("  ") or "|" not in raw:
                continue  # licence header
            head, gloss = raw.split("|", 1)
            fields = head.split()
            lemma = fields[4].replace("_", " ")
            lemma = re.sub(r"\(.*\)$", "", lemma)  # adjective markers like (a), (p)
            definitions = []
            for part in gloss.split(";"):
                part = part.strip()
                quoted = re.findall(r'"([^"]+)"', part)
                if quoted:
                    lines.extend(q for q in quoted if len(q.split()) >= 3)
                elif part:
                    definitions.append(part)
            if definitions:
                lines.append(f"{lemma}: {'; '.join(definitions)}.")
    return lines


def fortune_lines() -> list[str]:
    lines = []
    for path in sorted(FORTUNE_DIR.iterdir()):
        if path.suffix or path.name in FORTUNE_SKIP or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for cookie in text.split("\n%\n"):
            if looks_like_prose(normalise(cookie), min_words=4):
                lines.append(cookie)
    return lines


ROLE = re.compile(r":[\w:.+-]+:`~?!?([^`<]*?)\s*(?:<[^>]*>)?`")


def rst_paragraphs(text: str) -> list[str]:
    """Prose paragraphs of an reST file: unindented blocks, no directives, markup removed."""
    paragraphs, block = [], []
    for line in text.splitlines() + [""]:
        if line.strip() and not line[0].isspace():
            block.append(line)
            continue
        if block:
            paragraphs.append(block)
        block = []
    kept = []
    for block in paragraphs:
        first = block[0]
        if first.startswith(("..", "=", "-", "*", "|", "+", ">>>", "#", "~", "^", ":")):
            continue
        if len(block) >= 2 and re.fullmatch(r"[=\-~^*#\"']+", block[-1].strip()):
            continue  # a heading
        para = " ".join(block)
        para = ROLE.sub(r"\1", para)
        para = re.sub(r"``([^`]*)``", r"\1", para)
        para = re.sub(r"`([^`<]*?)\s*(?:<[^>]*>)?`_+", r"\1", para)
        para = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", para)
        para = re.sub(r"\s+::$", "", para)  # "Example ::" introduces code: drop the marker
        para = re.sub(r"::$", ":", para)
        para = normalise(para)
        if len(para.split()) >= 8 and looks_like_prose(para):
            kept.append(para)
    return kept


def pydoc_lines() -> list[str]:
    lines = []
    for part in PYDOC_PARTS:
        path = PYDOC_DIR / part
        files = [path] if path.is_file() else sorted(path.rglob("*.rst.txt"))
        for f in files:
            lines.extend(rst_paragraphs(f.read_text(encoding="utf-8", errors="replace")))
    return lines


def jargon_lines() -> list[str]:
    text = gzip.open(JARGON_FILE, "rt", encoding="latin-1").read()
    lines = []
    for para in re.split(r"\n\s*\n", text):
        para = normalise(para)
        if len(para.split()) >= 8 and looks_like_prose(para):
            lines.append(para)
    return lines


def kjv_lines() -> list[str]:
    """All verses, through the bible-kjv program (the data file is compressed)."""
    out = subprocess.run(["bible", "-f", "Ge1:1-Re22:21"], capture_output=True, text=True,
                         input="", check=True).stdout
    return [re.sub(r"^\S+\d+:\d+\s+", "", line) for line in out.splitlines() if line.strip()]


DING_SENTENCE = re.compile(r"[A-Z][A-Za-z',\- ]+ [A-Za-z',\- ]+[.?!]")
DING_PHRASE = re.compile(r"[a-z][a-z',\- ]+")
DING_NOTE = re.compile(r"\s*\{[^}]*\}|\s*\[[^\]]*\]|\s*\([^)]*\)")


def ding_english() -> list[str]:
    """Every English alternative of the Ding dictionary (the part after ' :: ' of each entry, split at '|' and
    '; '), notes removed, normalised; those with placeholders (sb./sth.), '/' alternatives or elisions left out."""
    kept = []
    for raw in DING_FILE.read_text(encoding="utf-8").splitlines():
        if raw.startswith("#") or " :: " not in raw:
            continue
        for part in raw.split(" :: ", 1)[1].split(" | "):
            for alternative in part.split("; "):
                text = normalise(DING_NOTE.sub("", alternative))
                if not re.search(r"\b(sb|sth)\b|/|\.\.\.|\u2026", text):
                    kept.append(text)
    return kept


def ding_lines(english: list[str] | None = None) -> list[str]:
    """Ding's English example sentences ("If it rains, we'll stay at home."): four words or more. `english`:
    ding_english() when already read."""
    english = ding_english() if english is None else english
    return [s for s in english if DING_SENTENCE.fullmatch(s) and len(s.split()) >= 4]


def ding_phrase_lines(english: list[str] | None = None) -> list[str]:
    """Ding's lowercase English phrases of three words or more ("to fold an umbrella", "salt and pepper"), each once."""
    english = ding_english() if english is None else english
    return sorted({s for s in english if DING_PHRASE.fullmatch(s) and len(s.split()) >= 3})


def held_out_patterns() -> list[re.Pattern]:
    """Patterns of the test sentences (cloze items with any word in the gap, and paragraph sentences)."""
    patterns = []
    for line in CLOZE_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            left, right = line.split("\t")[0].lower().split("[mask]")
            patterns.append(re.compile(re.escape(left.strip()) + r"\s*\S+\s*" + re.escape(right.strip())))
    for sentence in re.split(r"(?<=[.?!])\s+", normalise(PARAGRAPHS_FILE.read_text(encoding="utf-8")).lower()):
        if len(sentence.split()) >= 4:
            patterns.append(re.compile(re.escape(sentence)))
    return patterns


def split_lines(by_source: dict[str, list[str]], valid_lines: int = VALID_LINES) -> tuple[list[str], list[str]]:
    """Training and held-out lines: the sources outside TRAIN_ONLY shuffled with a fixed seed, the last
    `valid_lines` held out; TRAIN_ONLY's lines then join the training lines, shuffled again. So a train-only
    source added later leaves the held-out lines exactly as they were."""
    split = [line for name, lines in by_source.items() if name not in TRAIN_ONLY for line in lines]
    random.Random(SEED + 1).shuffle(split)
    train, valid = split[:-valid_lines], split[-valid_lines:]
    train += [line for name in TRAIN_ONLY for line in by_source.get(name, [])]
    random.Random(SEED + 2).shuffle(train)
    return train, valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--install", action="store_true", help="apt-get update + install the package list")
    parser.add_argument("--out", default=str(ROOT / "data" / "corpus"))
    args = parser.parse_args()
    packages = read_packages()
    if args.install:
        install(packages)

    sources = {
        "wordnet": wordnet_lines(),
        "fortunes": fortune_lines(),
        "python-docs": pydoc_lines(),
        "jargon": jargon_lines(),
        "kjv": kjv_lines(),
        "ding": ding_lines(english := ding_english()),
        "ding-phrases": ding_phrase_lines(english),
    }
    held_out = held_out_patterns()
    seen: set[str] = set()
    dropped_as_test = 0
    by_source: dict[str, list[str]] = {}
    for name, lines in sources.items():
        kept = []
        for line in lines:
            line = normalise(line)
            key = line.lower()
            if line and key not in seen:
                seen.add(key)
                if any(p.search(key) for p in held_out):
                    dropped_as_test += 1
                    continue
                kept.append(line)
        by_source[name] = kept

    # Cap the KJV: a fixed-seed sample of verses worth KJV_SHARE of all characters.
    other_chars = sum(len(x) for name, lines in by_source.items() if name not in {"kjv", *TRAIN_ONLY} for x in lines)
    budget = int(other_chars * KJV_SHARE / (1 - KJV_SHARE))
    verses = by_source["kjv"][:]
    random.Random(SEED).shuffle(verses)
    capped, used = [], 0
    for verse in verses:
        if used + len(verse) > budget:
            break
        capped.append(verse)
        used += len(verse)
    by_source["kjv"] = capped

    train, valid = split_lines(by_source)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": SEED, "valid_lines": VALID_LINES, "kjv_share": KJV_SHARE,
                "packages": package_versions(packages), "dropped_as_test": dropped_as_test,
                "sources": {}, "files": {}}
    for name, lines in by_source.items():
        manifest["sources"][name] = {"lines": len(lines), "chars": sum(len(x) for x in lines)}
    for split, lines in (("train", train), ("valid", valid)):
        path = out / f"{split}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        manifest["files"][path.name] = {"lines": len(lines), "chars": sum(len(x) for x in lines),
                                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
