#!/usr/bin/env python3
"""Module cycles: which modules of a crate import each other, directly or round a longer circle.

Usage: scripts/module-cycles.py [--skip CRATE]... [--verbose] [--root WORKSPACE]

For every crate under crates/ (and the root package's src/), builds the graph module -> modules
it references, and exits 1 listing each circle as `crate: a -> b -> a` (with, indented, the
first line that makes each arrow). Python 3 standard library only; no build needed.

What counts as a reference from module M to module N:
- `use crate::n::…`, `use super::…`, `use self::…`, grouped trees (`use crate::{a, b::C}`) and
  2018-style `use child::…`; the same paths written in code (`crate::n::f()`, `super::x`);
- a bare `child::…` in code, for a child module M declares.
A path names the deepest module it reaches: `crate::encoding::accept::Accept` is
`encoding::accept`, `crate::encoding::Coding` is `encoding`. Re-exports are not followed.

What does not count:
- a module referring to itself or to one of its ancestors (`super::Thing` in a child, `crate::X`
  for an item of the crate root): declaring `mod child` and the child using its parent's items
  is the normal Rust shape. A parent using its child's items does count, so a circle that goes
  out through a child and back into the parent from a sibling is reported;
- test code: items under `#[cfg(test)]` (and the files of such `mod x;` declarations), files
  named `tests.rs` or `*_tests.rs`, and everything outside src/;
- inline `mod x { … }` blocks belong to their file: a module is its file (`foo.rs` or
  `foo/mod.rs`; `foo/bar.rs` is `foo::bar`).
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MAX_CYCLES_PER_CRATE = 200


# ---- Lexing: comments and literals out, line numbers kept --------------------------------------


def strip_comments(src):
    """`src` with comments blanked (newlines kept); string and char literals are left."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(src[i:j]))
            i = j
        else:
            j = literal_end(src, i)
            if j > i:
                out.append(src[i:j])  # copied as is: `//` inside a string is not a comment
                i = j
            else:
                out.append(c)
                i += 1
    return "".join(out)


def strip_literals(src):
    """`src` (comments already gone) with string and char literals blanked."""
    out, i, n = [], 0, len(src)
    while i < n:
        j = literal_end(src, i)
        if j > i:
            out.append(blank(src[i:j]))
            i = j
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def literal_end(src, i):
    """End of the string/char literal starting at `i`, or `i` if none starts there."""
    if i > 0 and (src[i - 1].isalnum() or src[i - 1] == "_"):
        return i  # inside an identifier (`br` in `abr"`) or a suffix
    m = re.match(r'(?:b|c)?r(#*)"', src[i:i + 300])
    if m:
        close = '"' + m.group(1)
        j = src.find(close, i + m.end())
        return len(src) if j < 0 else j + len(close)
    m = re.match(r'(?:b|c)?"', src[i:i + 2])
    if m:
        j = i + m.end()
        while j < len(src) and src[j] != '"':
            j += 2 if src[j] == "\\" else 1
        return j + 1
    m = re.match(r"b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])'", src[i:i + 16])
    if m:
        return i + m.end()  # a lifetime (`'a`) has no closing quote and is left alone
    return i


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def item_end(src, i):
    """End of the item starting at `i`: its `;` or its closing `}` at bracket depth 0."""
    depth, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0 and c == "}":
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return n


CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
ATTR = re.compile(r"\s*#\s*\[")
MOD_DECL = re.compile(
    r"(?P<attrs>(?:#\s*\[[^\]]*\]\s*)*)(?:pub\s*(?:\([^)]*\))?\s*)?mod\s+(?P<name>" + IDENT + r")\s*;"
)
PATH_ATTR = re.compile(r'#\s*\[\s*path\s*=\s*"([^"]*)"\s*\]')


def drop_test_items(src):
    """`src` with every `#[cfg(test)]` item blanked; also the names of `#[cfg(test)] mod x;`."""
    test_mods = set()
    while True:
        m = CFG_TEST.search(src)
        if not m:
            return src, test_mods
        j = m.end()
        while True:  # further attributes on the same item
            a = ATTR.match(src, j)
            if not a:
                break
            j = item_end(src, a.end() - 1)
        d = re.match(r"\s*(?:pub\s*(?:\([^)]*\))?\s*)?mod\s+(" + IDENT + r")\s*;", src[j:])
        if d:
            test_mods.add(d.group(1))
        end = item_end(src, j)
        src = src[:m.start()] + blank(src[m.start():end]) + src[end:]


# ---- Use trees -----------------------------------------------------------------------------------


def expand_use_tree(text):
    """The paths of a use tree with the names they bind: `crate::{a, b::{self, d as e}}` →
    [('crate::a', 'a'), ('crate::b::self', 'b'), ('crate::b::d', 'e')] (`*` binds None)."""
    text = re.sub(r"\s+as\s+(" + IDENT + r")", r"@\1", text)
    text = re.sub(r"\s+", "", text)
    paths = []

    def walk(prefix, s):
        # `s` is one tree: `a::b`, `a::{…}`, `a as b`, `*`
        depth, start, parts = 0, 0, []
        for k, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:k])
                start = k + 1
        parts.append(s[start:])
        for p in parts:
            if not p:
                continue
            brace = p.find("{")
            if brace >= 0 and p.endswith("}"):
                walk(prefix + p[:brace], p[brace + 1:-1])
            else:
                path, _, alias = p.partition("@")
                path = prefix + path
                last = path.split("::")[-1]
                if last == "self":
                    last = path.split("::")[-2] if path.count("::") else None
                paths.append((path, alias or (None if last in ("*", "_") else last)))

    walk("", text)
    return paths


USE_STMT = re.compile(r"(?<![\w:])use\s+([^;]*);")
CODE_PATH = re.compile(r"(?<![\w:.$])((?:crate|super|self)(?:\s*::\s*" + IDENT + r")+)")


# ---- Crates and modules --------------------------------------------------------------------------


class Module:
    def __init__(self, path, file, child_dir):
        self.path = path  # tuple of segments; () is the crate root
        self.file = file
        self.child_dir = child_dir
        self.src = ""
        self.children = {}
        self.imports = {}  # name bound by a `use` here -> the path's segments


def load_crate(root_file):
    """Every non-test module file reachable from `root_file` by `mod x;`, by module path."""
    modules = {}
    stack = [Module((), root_file, os.path.dirname(root_file))]
    while stack:
        mod = stack.pop()
        with open(mod.file, encoding="utf-8") as f:
            src = strip_comments(f.read())
        src, test_mods = drop_test_items(src)
        decls = []
        for m in MOD_DECL.finditer(src):
            if m.group("name") in test_mods:
                continue
            p = PATH_ATTR.search(m.group("attrs") or "")
            decls.append((m.group("name"), p.group(1) if p else None))
        mod.src = strip_literals(src)
        for m in USE_STMT.finditer(mod.src):
            for path, bound in expand_use_tree(m.group(1)):
                segs = [x for x in path.lstrip(":").split("::") if x and x != "self"]
                if bound and segs:
                    mod.imports[bound] = segs
        modules[mod.path] = mod
        for name, explicit in decls:
            if explicit:
                file = os.path.normpath(os.path.join(os.path.dirname(mod.file), explicit))
            else:
                file = os.path.join(mod.child_dir, name + ".rs")
                if not os.path.exists(file):
                    file = os.path.join(mod.child_dir, name, "mod.rs")
            base = os.path.basename(file)
            if base == "tests.rs" or base.endswith("_tests.rs") or not os.path.exists(file):
                continue
            child_dir = os.path.dirname(file) if base == "mod.rs" else os.path.join(os.path.dirname(file), name)
            child = Module(mod.path + (name,), file, child_dir)
            mod.children[name] = child.path
            stack.append(child)
    return modules


def resolve(modules, here, segs, depth=0):
    """The module a path (list of segments) from module `here` names, or None if not ours. A
    name a module imports (`pub use x::Thing` in lib.rs, say) counts as where it comes from."""
    if depth > 16:
        return None
    first, rest = segs[0], segs[1:]
    if first == "crate":
        cur = ()
    elif first == "super":
        cur = here
        while segs and segs[0] == "super":
            if not cur:
                return None
            cur, segs = cur[:-1], segs[1:]
        rest = segs
    elif first == "self":
        cur = here
    elif first in modules[here].children:
        cur = modules[here].children[first]
    else:
        return None
    for k, s in enumerate(rest):
        if s == "self":
            break
        if cur + (s,) in modules:
            cur = cur + (s,)
            continue
        imported = modules[cur].imports.get(s)
        if imported and imported[0] in ("crate", "super", "self") or (imported and imported[0] in modules[cur].children):
            return resolve(modules, cur, imported + rest[k + 1:], depth + 1) or cur
        break
    return cur


def edges_of(modules, here):
    """{target: (line, text)}: the modules `here` references, each with its first reference."""
    mod = modules[here]
    src = mod.src
    found = {}

    def add(target, pos, text):
        if target is None or target == here or here[:len(target)] == target:
            return  # itself, or an ancestor
        line = src.count("\n", 0, pos) + 1
        if target not in found or found[target][0] > line:
            found[target] = (line, re.sub(r"\s+", " ", text.strip()))

    uses = []
    for m in USE_STMT.finditer(src):
        uses.append((m.start(), m.end()))
        for p, _ in expand_use_tree(m.group(1)):
            segs = [s for s in p.lstrip(":").split("::") if s and s != "*"]
            if segs:
                add(resolve(modules, here, segs), m.start(), "use " + m.group(1))
    in_use = lambda pos: any(a <= pos < b for a, b in uses)
    for m in CODE_PATH.finditer(src):
        if not in_use(m.start()):
            segs = re.split(r"\s*::\s*", m.group(1))
            add(resolve(modules, here, segs), m.start(), m.group(1))
    if mod.children:
        names = "|".join(re.escape(n) for n in mod.children)
        for m in re.finditer(r"(?<![\w:.$])(" + names + r")\s*::\s*(" + IDENT + r")", src):
            if not in_use(m.start()):
                add(resolve(modules, here, [m.group(1), m.group(2)]), m.start(), m.group(0))
    return found


# ---- Cycles --------------------------------------------------------------------------------------


def strongly_connected(graph):
    """Tarjan's components of more than one node (self-edges are never added)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def elementary_cycles(graph, comp, limit):
    """Every simple circle inside one component, each once (started at its smallest module)."""
    nodes = sorted(comp)
    cycles = []
    for i, start in enumerate(nodes):
        allowed = set(nodes[i:])
        path, on_path = [start], {start}

        def dfs(v):
            for w in sorted(graph[v]):
                if len(cycles) >= limit:
                    return
                if w == start:
                    cycles.append(path + [start])
                elif w in allowed and w not in on_path:
                    path.append(w)
                    on_path.add(w)
                    dfs(w)
                    path.pop()
                    on_path.discard(w)

        dfs(start)
    return cycles


def name(path):
    return "::".join(path) if path else "crate"


def crate_roots(workspace):
    """(crate name, root file) for each crate: crates/NAME/src/{lib,main}.rs and src/bin/*.rs,
    and the root package's src/ as `pollux`."""
    out = []
    crates = os.path.join(workspace, "crates")
    dirs = [(d, os.path.join(crates, d)) for d in sorted(os.listdir(crates))]
    dirs.append(("pollux", workspace))
    for crate, d in dirs:
        src = os.path.join(d, "src")
        for root in ("lib.rs", "main.rs"):
            f = os.path.join(src, root)
            if os.path.exists(f):
                both = os.path.exists(os.path.join(src, "lib.rs")) and os.path.exists(os.path.join(src, "main.rs"))
                out.append((crate + (" (bin)" if both and root == "main.rs" else ""), crate, f))
        bindir = os.path.join(src, "bin")
        if os.path.isdir(bindir):
            for b in sorted(os.listdir(bindir)):
                f = os.path.join(bindir, b, "main.rs") if os.path.isdir(os.path.join(bindir, b)) else os.path.join(bindir, b)
                if f.endswith(".rs") and os.path.exists(f):
                    out.append((crate + " (bin " + b.removesuffix(".rs") + ")", crate, f))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip", action="append", default=[], metavar="CRATE",
                    help="a crate (directory name under crates/, or `pollux`) not to check; repeatable")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print every crate's graph")
    ap.add_argument("--root", default=ROOT, help="the workspace to check (default: this script's)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    total = checked = 0
    for label, crate, root_file in crate_roots(root):
        if crate in args.skip:
            print(f"module-cycles: {label}: skipped", file=sys.stderr)
            continue
        modules = load_crate(root_file)
        checked += 1
        graph, why = {}, {}
        for here in modules:
            found = edges_of(modules, here)
            graph[here] = set(found)
            for target, (line, text) in found.items():
                why[(here, target)] = f"{os.path.relpath(modules[here].file, root)}:{line}: {text}"
        if args.verbose:
            for here in sorted(graph):
                print(f"{label}: {name(here)} -> {', '.join(name(t) for t in sorted(graph[here])) or '(none)'}")
        for comp in strongly_connected(graph):
            cycles = elementary_cycles(graph, comp, MAX_CYCLES_PER_CRATE)
            for cyc in cycles:
                total += 1
                print(f"{label}: {' -> '.join(name(m) for m in cyc)}")
                for a, b in zip(cyc, cyc[1:]):
                    print(f"    {name(a)} -> {name(b)}: {why[(a, b)]}")
            if len(cycles) >= MAX_CYCLES_PER_CRATE:
                print(f"{label}: … more circles among {', '.join(sorted(name(m) for m in comp))}")
    if total:
        print(f"module-cycles: {total} circle(s) between modules", file=sys.stderr)
        return 1
    print(f"module-cycles: no circles in {checked} crate(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
