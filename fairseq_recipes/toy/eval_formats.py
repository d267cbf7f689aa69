"""The released on-disk formats of the toy evaluation sets (``eval_sets.py``): each function
returns a file's text from realised tokens ``[(word, upos, bio)]``.

Texts are rendered with ``lexicon.render`` (no spaces in ja), and offsets (CoNLL-U
``SpaceAfter=No``; mTOP spans, in UTF-8 bytes as released) are found in that rendering, so
they always agree.
"""

import json
from typing import List, Sequence, Tuple

from .lexicon import Token, render

#: XNLI-1.0's 19 columns (the parse columns are empty in the release too)
XNLI_HEADER = (
    "language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse "
    "sentence2_parse sentence1 sentence2 promptID pairID genre label1 label2 label3 "
    "label4 label5 sentence1_tokenized sentence2_tokenized match"
).split()
UD_LANGUAGES = dict(
    zip(
        "en fr de es ru hi ar ja".split(),
        "English French German " "Spanish Russian Hindi Arabic Japanese".split(),
    )
)


def words(tokens: Sequence[Token]) -> List[str]:
    return [word for word, _, _ in tokens]


def offsets(text: str, tokens: Sequence[Token]) -> List[int]:
    """The character offset of each token in ``text``, its rendering."""
    out, pos = [], 0
    for word, _, _ in tokens:
        pos = text.index(word, pos)
        out.append(pos)
        pos += len(word)
    return out


def _lines(lines) -> str:
    return "\n".join(lines) + "\n"


def xnli_tsv(rows) -> str:
    """``xnli.{dev,test}.tsv``; rows: (lang, label, premise, hypothesis, pair id)."""
    lines = ["\t".join(XNLI_HEADER)]
    for lang, label, premise, hypothesis, pair in rows:
        s1, s2 = render(lang, premise), render(lang, hypothesis)
        t1, t2 = " ".join(words(premise)), " ".join(words(hypothesis))
        lines.append(
            "\t".join(
                [
                    lang,
                    label,
                    "",
                    "",
                    "",
                    "",
                    s1,
                    s2,
                    str(pair),
                    str(pair),
                    "toy",
                    *[label] * 5,
                    t1,
                    t2,
                    "True",
                ]
            )
        )
    return _lines(lines)


def multinli_tsv(rows) -> str:
    """XNLI-MT's ``multinli.train.en.tsv``; rows: (label, premise, hypothesis)."""
    lines = ["premise\thypo\tlabel"]
    for label, premise, hypothesis in rows:
        label = "contradictory" if label == "contradiction" else label
        lines.append(f"{render('en', premise)}\t{render('en', hypothesis)}\t{label}")
    return _lines(lines)


def matis_tsv(rows) -> str:
    """MultiATIS++ ``{split}_{LANG}.tsv``; rows: (id, words, slot labels, intent)."""
    lines = ["id\tutterance\tslot_labels\tintent"]
    for ident, ws, slots, intent in rows:
        lines.append(f"{ident}\t{' '.join(ws)}\t{' '.join(slots)}\t{intent}")
    return _lines(lines)


def panx(lang: str, sentences: Sequence[Sequence[Token]]) -> str:
    """PAN-X ``lang:token<TAB>TAG`` lines, each sentence followed by a blank line."""
    return "".join(
        "".join(f"{lang}:{word}\t{tag}\n" for word, _, tag in tokens) + "\n"
        for tokens in sentences
    )


def _root(tokens: Sequence[Token]) -> int:
    """The predicate's position (1-based): the verb, else the adjective or noun."""
    for wanted in ("VERB", "ADJ", "NOUN", "PROPN"):
        for i, (_, upos, _) in enumerate(tokens, start=1):
            if upos == wanted:
                return i
    return 1


def conllu(
    lang: str, sentences: Sequence[Tuple[int, Sequence[Token]]], prefix: str
) -> str:
    """CoNLL-U of (document number, tokens) sentences. The trees are flat (every word an
    unspecified ``dep`` of the predicate): valid, and UPOS is all the readers use."""
    out, last_doc = [], None
    for k, (doc, tokens) in enumerate(sentences, start=1):
        if doc != last_doc:
            out.append(f"# newdoc id = {prefix}-d{doc}")
            last_doc = doc
        text = render(lang, tokens)
        out += [f"# sent_id = {prefix}-s{k}", f"# text = {text}"]
        root = _root(tokens)
        for i, ((word, upos, _), start) in enumerate(
            zip(tokens, offsets(text, tokens)), 1
        ):
            end = start + len(word)
            misc = "SpaceAfter=No" if end < len(text) and text[end] != " " else "_"
            rel = "root" if i == root else "punct" if upos == "PUNCT" else "dep"
            head = 0 if i == root else root
            out.append(
                "\t".join([str(i), word, "_", upos, "_", "_", str(head), rel, "_", misc])
            )
        out.append("")
    return _lines(out)


def mtop_line(ident: str, intent: str, lang: str, tokens, slots) -> str:
    """A line of mTOP's ``{split}.txt``; slots: (first token, end token, ``SL:NAME``). The
    decoupled form keeps only the slots' words, in the utterance's order."""
    text = render(lang, tokens)
    ws = words(tokens)
    # mTOP's offsets are UTF-8 bytes, slot spans and token spans alike
    starts = [len(text[:s].encode("utf-8")) for s in offsets(text, tokens)]
    sizes = [len(w.encode("utf-8")) for w in ws]
    spans = ",".join(
        f"{starts[a]}:{starts[b - 1] + sizes[b - 1]}:{name}" for a, b, name in slots
    )
    form = " ".join(
        [f"[{intent}"]
        + [f"[{name} {' '.join(ws[a:b])} ]" for a, b, name in slots]
        + ["]"]
    )
    token_json = json.dumps(
        {
            "tokens": ws,
            "tokenSpans": [{"start": s, "length": n} for s, n in zip(starts, sizes)],
        },
        ensure_ascii=False,
    )
    return "\t".join(
        [ident, intent, spans, text, "people", f"{lang}_XX", form, token_json]
    )


def xsum_summary(ident: str, title: str, summary: str, body: Sequence[str]) -> str:
    """A ``bbc-summary-data/{id}.summary`` file of the raw XSum release."""
    url = (
        f"http://web.archive.org/web/20160101000000/http://www.bbc.co.uk/news/toy-{ident}"
    )
    sections = [
        ("URL", [url]),
        ("TITLE", [title]),
        ("FIRST-SENTENCE", [summary]),
        ("RESTBODY", list(body)),
    ]
    return "\n".join(f"[SN]{name}[SN]\n" + _lines(lines) for name, lines in sections)
