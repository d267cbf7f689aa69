"""Guard: every command that README.md and docs/*.md show names things that exist.

From every fenced shell block (```bash, ```sh, ```shell, ```console, and untagged blocks,
where only lines that start with a known command count) and every inline code span that
starts with one of the project's commands, each command line (continuations joined,
comments dropped) is checked:

* a script it names (``train_scripts/x.sh``, ``tools/x.sh``, ``python benchmarks/x.py``)
  and any argument that names a path inside the repository (``configs/...``,
  ``train_scripts/...``, ``fairseq_recipes/...``, globs allowed) exist;
* a ``recipes-*`` command is one of setup.py's console scripts, and ``python -m MOD`` names
  a module file of the repository;
* each ``--option`` of a ``recipes-*`` command or ``python -m fairseq_recipes...`` is one its
  argparse parser accepts (the module's ``build_parser()``, or the parser its ``cli_main``
  builds, caught at ``parse_args``; without either, the option must occur in its source);
  options of ``python benchmarks/x.py`` must occur in that script;
* ``fairseq-train``, ``fairseq-generate`` and ``fairseq-validate`` in fenced blocks are
  parsed by fairseq's own options parser with ``--user-dir fairseq_recipes`` (the task's,
  criterion's and scorer's options included); in inline spans they are skipped, since
  those are fragments with placeholders (``--task <task>``);
* ``make X``: the target is in the Makefile;
* ``NAME=value`` before a train script: an uppercase NAME is a setting the script reads
  (``script_settings.BY_NAME``, or read as ``${NAME`` by the script or the lib it sources:
  recipe 3's and the fine-tuning scripts' variables are not in ``BY_NAME``).

Also: every Markdown link between these files (and into the repository) resolves, anchors
included, and docs/where-things-are.md covers every Table 1 row and every evaluation.
``$VARS``, ``...`` and ``[optional]`` brackets are allowed anywhere.
"""

import argparse
import ast
import contextlib
import glob
import importlib
import io
import re
import shlex
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one

SHELL_TAGS = {"bash", "sh", "shell", "console", ""}
REPO_DIRS = (
    "configs",
    "train_scripts",
    "tools",
    "preprocess",
    "benchmarks",
    "fairseq_recipes",
    "tests",
    "docs",
)
PYTHONS = {"python", "python3", "python3.11", "$PYTHON", ".venv/bin/python"}
FAIRSEQ = {"fairseq-train", "fairseq-generate", "fairseq-validate"}
WRAPPERS = {"env", "nice", "time", "srun", "sudo", "exec"}
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
INLINE_START = re.compile(
    r"^(\.venv/bin/)?(recipes-[a-z-]+|make\s|python3?\s+(-m\s+fairseq_recipes|benchmarks/)"
    r"|train_scripts/|tools/)"
)


def doc_files():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


# ---------------------------------------------------------------- extracting commands


def fenced_blocks(text):
    """[(first line number, tag, [lines])] of the fenced code blocks."""
    blocks, current = [], None
    for number, line in enumerate(text.split("\n"), 1):
        fence = re.match(r"^\s*```(.*)$", line)
        if fence and current is None:
            current = (number + 1, fence.group(1).strip().lower(), [])
        elif fence:
            blocks.append(current)
            current = None
        elif current is not None:
            current[2].append(line)
    return blocks


def joined_lines(start, lines):
    """(line number, text) with backslash continuations joined."""
    out, buf, first = [], "", None
    for number, line in enumerate(lines, start):
        if first is None:
            first = number
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append((first, buf + line))
        buf, first = "", None
    if buf:
        out.append((first, buf))
    return out


def words(line):
    """Shell words of a line, comments dropped, split at ; && || |."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""  # a comment starts a word; '#' inside a word is literal
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: not a command line
        return None
    kept = []
    for token in tokens:
        if token.startswith("#"):
            break
        kept.append(token)
    commands, current = [], []
    for token in kept:
        if token and set(token) <= set(";&|"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def split_command(tokens):
    """(assignments [(name, value)], command word, arguments); word None if none."""
    assignments, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        match = ASSIGNMENT.match(token)
        if match:
            assignments.append(match.groups())
            i += 1
        elif token in WRAPPERS:
            # skip the wrapper and its options up to the next assignment or command
            i += 1
            while (
                i < len(tokens)
                and not ASSIGNMENT.match(tokens[i])
                and not (command_kind(tokens[i]))
            ):
                i += 1
        else:
            return assignments, token, tokens[i + 1 :]
    return assignments, None, []


def command_kind(word):
    word = strip_venv(word)
    if word.startswith("recipes-"):
        return "recipes"
    if word in PYTHONS:
        return "python"
    if word in FAIRSEQ:
        return "fairseq"
    if word == "make":
        return "make"
    if re.match(r"^(\./)?[\w./+-]+\.(sh|py)$", word) or re.match(
        rf"^(\./)?({'|'.join(REPO_DIRS)})/", word
    ):
        return "script"
    return None


def strip_venv(word):
    return word[len(".venv/bin/") :] if word.startswith(".venv/bin/") else word


def looks_like_command(line):
    """A line of an untagged block that starts like a command, not a file listing."""
    first = line.split()[0] if line.split() else ""
    if ASSIGNMENT.match(first) or first in WRAPPERS:
        return True
    if command_kind(first) in ("recipes", "python", "fairseq", "make"):
        return True
    return bool(
        re.match(
            r"^(\./)?(train_scripts|tools|preprocess|benchmarks)/\S+\.(sh|py)$", first
        )
    )


def command_lines(path, text):
    """(where, tokens, inline) for every command the page shows."""
    found = []
    for start, tag, lines in fenced_blocks(text):
        tag = tag.split()[0] if tag else ""
        if tag not in SHELL_TAGS:
            continue
        for number, line in joined_lines(start, lines):
            if tag == "" and not looks_like_command(line):
                continue  # untagged blocks also hold file listings
            for tokens in words(line) or []:
                found.append((f"{path.name}:{number}", tokens, False))
    prose = re.sub(
        r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S
    )
    for match in re.finditer(r"`([^`]+)`", prose):
        span = " ".join(match.group(1).split())
        if INLINE_START.match(span):
            number = prose.count("\n", 0, match.start()) + 1
            for tokens in words(span) or []:
                found.append((f"{path.name}:{number}", tokens, True))
    return found


# ---------------------------------------------------------------- what exists


@lru_cache(maxsize=None)
def console_scripts():
    """{command: "module:function"} from setup.py's entry points."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    entries = ast.literal_eval(value)
                    return {
                        name.strip(): target.strip()
                        for name, target in (e.split("=", 1) for e in entries)
                    }
    raise AssertionError("setup.py has no console_scripts")


@lru_cache(maxsize=None)
def make_targets():
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def module_file(module):
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__main__.py"):
        if candidate.is_file():
            return candidate
    return None


def python_source(path):
    """A script's source and that of the repository's ``benchmarks`` modules it imports
    (``benchmarks/figures.py`` parses every benchmark's ``--quick``)."""
    text = path.read_text()
    for module in re.findall(
        r"^\s*(?:from|import)\s+(benchmarks\.\w+)", text, flags=re.M
    ):
        if module_file(module) is not None:
            text += module_file(module).read_text()
    return text


class _Captured(BaseException):
    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def _capture_parser(function):
    """The parser that ``function([])`` builds, caught when it starts parsing."""

    def catch(self, *args, **kwargs):
        raise _Captured(self)

    saved = argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args
    argparse.ArgumentParser.parse_args = catch
    argparse.ArgumentParser.parse_known_args = catch
    try:
        function([])
    except _Captured as caught:
        return caught.parser
    except BaseException:  # noqa: B036 - built nothing we can read
        return None
    finally:
        argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args = (
            saved
        )
    return None


def option_strings(parser):
    options = set()
    for action in parser._actions:
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= option_strings(sub)
    return options


@lru_cache(maxsize=None)
def module_options(module):
    """(option strings the module's parser accepts, or None; the module's source)."""
    path = module_file(module)
    source = path.read_text() if path else ""
    mod = importlib.import_module(module)
    parser = None
    if hasattr(mod, "build_parser"):
        parser = mod.build_parser()
    else:
        for name in ("cli_main", "main"):
            if callable(getattr(mod, name, None)):
                parser = _capture_parser(getattr(mod, name))
                if parser is not None:
                    break
    return (option_strings(parser) if parser is not None else None), source


@lru_cache(maxsize=None)
def script_variables(script):
    """Uppercase variables a train script reads: BY_NAME and ${NAME in its sources."""
    from fairseq_recipes.script_settings import BY_NAME

    text = (ROOT / script).read_text()
    for lib in re.findall(r"lib/([\w.-]+\.sh)", text):
        text += (ROOT / "train_scripts" / "lib" / lib).read_text()
    return set(BY_NAME) | set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))


# ---------------------------------------------------------------- checking


def is_placeholder(token):
    return "$" in token or "..." in token or "<" in token


def clean(token):
    return token.strip("[]")


def check_repo_path(token):
    token = clean(token)
    if is_placeholder(token) or not re.match(
        rf"^(\./)?({'|'.join(REPO_DIRS)})(/|$)", token
    ):
        return None
    if glob.glob(str(ROOT / token)) or (ROOT / token).exists():
        return None
    return f"{token}: no such file in the repository"


def check_options(args, accepted, source, tool):
    problems = []
    for arg in map(clean, args):
        if not arg.startswith("--") or arg == "--" or is_placeholder(arg):
            continue
        option = arg.split("=", 1)[0]
        if accepted is not None:
            if option not in accepted:
                problems.append(f"{tool}: unknown option {option}")
        elif f'"{option}"' not in source and f"'{option}'" not in source:
            problems.append(f"{tool}: option {option} not found in its source")
    return problems


def check_fairseq(word, args):
    from fairseq import options

    args = [clean(a) for a in args]
    args = [str(ROOT / "fairseq_recipes") if a == "fairseq_recipes" else a for a in args]
    if "--user-dir" not in args:
        args += ["--user-dir", str(ROOT / "fairseq_recipes")]
    build = {
        "fairseq-train": options.get_training_parser,
        "fairseq-generate": options.get_generation_parser,
        "fairseq-validate": options.get_validation_parser,
    }[word]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            options.parse_args_and_arch(build(), args)
    except SystemExit:
        last = [line for line in err.getvalue().splitlines() if line.strip()]
        return [f"{word}: {last[-1] if last else 'refused its arguments'}"]
    return []


def check_command(tokens, inline=False):
    """Problems with one command (a list of shell words); [] when it checks out."""
    assignments, word, args = split_command(tokens)
    problems = [p for _, value in assignments for p in [check_repo_path(value)] if p]
    if word is None:
        return problems
    kind = command_kind(word)
    word = strip_venv(word)
    problems += [p for a in args for p in [check_repo_path(a)] if p]
    if kind == "recipes":
        scripts = console_scripts()
        if word not in scripts:
            return problems + [f"{word}: not a console script of setup.py"]
        module = scripts[word].split(":")[0]
        accepted, source = module_options(module)
        problems += check_options(args, accepted, source, word)
    elif kind == "python":
        if args[:1] == ["-m"] and len(args) > 1:
            module, rest = args[1], args[2:]
            if module.split(".")[0] in ("fairseq_recipes", "benchmarks", "tools"):
                if module_file(module) is None:
                    return problems + [f"python -m {module}: no such module file"]
                if module.startswith("fairseq_recipes"):
                    accepted, source = module_options(module)
                    problems += check_options(rest, accepted, source, module)
                else:
                    source = python_source(module_file(module))
                    problems += check_options(rest, None, source, module)
        elif args and args[0].endswith(".py") and not is_placeholder(args[0]):
            script = ROOT / args[0]
            if not script.is_file():
                return problems + [f"{args[0]}: no such file in the repository"]
            problems += check_options(args[1:], None, python_source(script), args[0])
    elif kind == "fairseq" and not inline:
        problems += check_fairseq(word, args)
    elif kind == "make":
        for target in args:
            if target.startswith("-") or "=" in target or is_placeholder(target):
                continue
            if target not in make_targets():
                problems.append(f"make {target}: no such target in the Makefile")
    elif kind == "script":
        path = word[2:] if word.startswith("./") else word
        if is_placeholder(path):
            return problems
        if (ROOT / path).is_dir():
            return problems  # a folder named in prose (`train_scripts/`)
        if not (ROOT / path).is_file():
            return problems + [f"{path}: no such file in the repository"]
        if path.startswith("train_scripts/") and path.endswith(".sh"):
            known = script_variables(path)
            for name, _ in assignments:
                if name.isupper() and name not in known:
                    problems.append(f"{path}: {name} is not a setting it reads")
    return problems


def check_markdown(path, text):
    """Every problem of one page, as 'page:line: problem'."""
    problems = []
    for where, tokens, inline in command_lines(path, text):
        problems += [f"{where}: {p}" for p in check_command(tokens, inline)]
    problems += [f"{path.name}: {p}" for p in check_links(path, text)]
    return problems


# ---------------------------------------------------------------- links


def slug(heading):
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text):
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.*)$", prose, flags=re.M)}


def check_links(path, text):
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    targets += re.findall(r"^\[[^\]]+\]:\s*(\S+)", prose, flags=re.M)
    problems = []
    for target in targets:
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        if not file_part:  # a heading of this page
            if anchor not in anchors(text):
                problems.append(f"link {target}: no such heading")
            continue
        linked = (path.parent / file_part).resolve()
        if not linked.exists():
            problems.append(f"link {target}: no such file")
        elif (
            anchor
            and linked.suffix == ".md"
            and anchor not in anchors(linked.read_text())
        ):
            problems.append(f"link {target}: no such heading")
    return problems


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("page", doc_files(), ids=lambda p: p.name)
def test_every_command_and_link_checks_out(page):
    problems = check_markdown(page, page.read_text())
    assert not problems, "\n".join(problems)


def test_the_pages_show_commands():
    """The extraction finds the commands (a checker that reads nothing passes anything)."""
    lines = [c for p in doc_files() for c in command_lines(p, p.read_text())]
    kinds = {command_kind(split_command(tokens)[1] or "") for _, tokens, _ in lines}
    assert {"recipes", "python", "fairseq", "make", "script"} <= kinds
    assert len(lines) > 50


def test_where_things_are_covers_every_row_and_evaluation():
    from fairseq_recipes.evaluations import EVALUATIONS
    from fairseq_recipes.recipes import STAGES

    text = (ROOT / "docs" / "where-things-are.md").read_text()
    for name in STAGES:
        assert f"`{name}`" in text and f"train_scripts/{name}.sh" in text, name
    for task in EVALUATIONS:
        assert f"(`{task}`)" in text and f"train_scripts/finetune-{task}.sh" in text, task


BROKEN = """
Some prose with `recipes-cost --no-such-flag` inline, a [link](missing.md) and one
to [a heading](#no-such-heading) of this page.

```bash
DATA=data-bin train_scripts/no-such-model.sh        # a script that does not exist
NO_SUCH_SETTING=1 DATA=data-bin train_scripts/roberta-12e.sh
recipes-finetune --checkpoint x.pt --evaluation wikiann \\
    --bogus-option 3 --output out   # an option on a continuation line
recipes-nonexistent --help
python -m fairseq_recipes.no_such_module
make no-such-target
recipes-main --config configs/no-such.toml
fairseq-generate data-bin --user-dir fairseq_recipes --task recipes_span_denoising \\
    --no-such-generate-flag
```
"""

GOOD = """
## A heading: with `code`, punctuation

Prose with `recipes-cost --format markdown` and [a page](../docs/data.md#options),
[the front page](../README.md#status) and [this one](#a-heading-with-code-punctuation).

```bash
SMOKE=1 DATA=$DATA train_scripts/roberta-12e.sh   # comment with --not-an-option
OBJECTIVE_SCHEDULE=sum DATA=data-bin train_scripts/bart-12e12d-joint.sh
SMOKE=1 SEEDS=1 CHECKPOINT=... EVAL_DATA=x train_scripts/finetune-wikiann.sh
.venv/bin/recipes-extract-encoder --input a.pt --output b.pt [--seed 1] [--overwrite]
recipes-cost --checkpoints checkpoints/*/checkpoint_last.pt; make main
python -m fairseq_recipes.recipes shell roberta-12e
srun --nodes 4 env DATA=data-bin GPUS_PER_NODE=8 train_scripts/roberta-12e.sh
```

```
data-bin/manifest.json     a file listing, not a command
```
"""


def test_the_checker_reports_what_is_broken():
    page = ROOT / "docs" / "fake.md"  # resolved links are relative to docs/
    problems = "\n".join(check_markdown(page, BROKEN))
    for expected in [
        "train_scripts/no-such-model.sh: no such file",
        "NO_SUCH_SETTING is not a setting it reads",
        "recipes-finetune: unknown option --bogus-option",
        "recipes-nonexistent: not a console script",
        "python -m fairseq_recipes.no_such_module: no such module file",
        "make no-such-target: no such target",
        "configs/no-such.toml: no such file",
        "unrecognized arguments: --no-such-generate-flag",
        "recipes-cost: unknown option --no-such-flag",
        "link missing.md: no such file",
        "link #no-such-heading: no such heading",
    ]:
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


def test_the_checker_passes_what_is_right():
    page = ROOT / "docs" / "fake.md"
    good = GOOD.replace("#options", "")  # data.md has no 'options' heading
    assert check_markdown(page, good) == []
    assert any("no such heading" in p for p in check_markdown(page, GOOD))
