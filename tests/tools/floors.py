#!/usr/bin/env python3
"""floors.py - the C core's layers: no cycle, and every dependency goes down a floor.

    tests/tools/floors.py [SRC_DIR] [--objs OBJ_DIR]   (TAP; exit 1 on a violation)
    tests/tools/floors.py --dot                        (the include graph, for graphviz)

Two graphs are checked. The include graph says what a file may know; the link graph
(with --objs: the undefined symbols of each object file, resolved to the object that
defines them, read with nm) says whom its code calls, which an include graph can miss
(a prototype written by hand, an extern).

A module is a file's path without its extension (registry/op.c and registry/op.h are one
module). An edge A -> B means A.c or A.h includes B.h. The floors, bottom up:
util -> http -> engine -> registry -> service -> lua -> main.c. A module may include its own floor
and the floors below, never above; only src/lua/ and src/main.c may include lua.h."""
import os
import re
import sys

FLOORS = ["util", "http", "engine", "registry", "service", "lua", "main"]
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def floor_of(module):
    top = module.split("/")[0]
    return FLOORS.index(top) if top in FLOORS else None


def read_graph(src):
    edges, lua_users = {}, []
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            module = os.path.splitext(os.path.relpath(path, src))[0]
            edges.setdefault(module, set())
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                if inc in ("lua.h", "lauxlib.h", "lualib.h"):
                    lua_users.append(module)
                if os.path.exists(os.path.join(src, inc)):
                    target = os.path.splitext(inc)[0]
                    if target != module:
                        edges[module].add(target)
    return edges, lua_users


def find_cycle(edges):
    """One cycle as a list of modules, or None (iterative DFS, colours)."""
    colour, parent = {m: 0 for m in edges}, {}
    for root in sorted(edges):
        if colour[root]:
            continue
        stack = [(root, iter(sorted(edges[root])))]
        colour[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                continue
            if nxt not in colour:
                continue
            if colour[nxt] == 1:
                cycle = [nxt]
                for n, _ in reversed(stack):
                    cycle.append(n)
                    if n == nxt:
                        break
                return list(reversed(cycle))
            if colour[nxt] == 0:
                colour[nxt] = 1
                parent[nxt] = node
                stack.append((nxt, iter(sorted(edges[nxt]))))
    return None


def read_link_graph(objs, src):
    """module -> modules whose symbols it uses, from nm of OBJ_DIR/<floor>/<name>.o (only
    objects whose source is still in SRC: a stale object of a moved file is ignored)."""
    import subprocess
    defined, undefined = {}, {}
    for dirpath, _, files in os.walk(objs):
        for f in files:
            if not f.endswith(".o") or f == "embedded.o":
                continue
            path = os.path.join(dirpath, f)
            module = os.path.splitext(os.path.relpath(path, objs))[0]
            if not os.path.exists(os.path.join(src, module + ".c")):
                continue
            out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
            undefined[module] = set()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "U":
                    undefined[module].add(parts[1])
                elif len(parts) == 3 and parts[1] in "TDRB":
                    defined[parts[2]] = module
    return {m: {defined[s] for s in syms if s in defined and defined[s] != m} for m, syms in undefined.items()}


def check(results, edges, kind):
    cycle = find_cycle(edges)
    results.append((cycle is None, "the %s graph of %d modules has no cycle%s" %
                    (kind, len(edges), "" if cycle is None else ": " + " -> ".join(cycle))))
    upward = [f"{m} -> {t}" for m in sorted(edges) for t in sorted(edges[m])
              if floor_of(m) is not None and floor_of(t) is not None and floor_of(t) > floor_of(m)]
    results.append((not upward, "every %s dependency goes to the same floor or one below" % kind +
                    ("" if not upward else ": " + ", ".join(upward))))


def main():
    argv = sys.argv[1:]
    objs = None
    if "--objs" in argv:
        i = argv.index("--objs")
        objs = argv[i + 1]
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    edges, lua_users = read_graph(src)
    if "--dot" in sys.argv:
        print("digraph isync {")
        for m in sorted(edges):
            for t in sorted(edges[m]):
                print(f'  "{m}" -> "{t}";')
        print("}")
        return 0
    results = []
    check(results, edges, "include")
    if objs:
        check(results, read_link_graph(objs, src), "link")
    unplaced = [m for m in sorted(edges) if floor_of(m) is None]
    results.append((not unplaced, "every file is on a floor (%s)" % ", ".join(FLOORS) +
                    ("" if not unplaced else ": not " + ", ".join(unplaced))))
    wrong_lua = sorted(set(m for m in lua_users if floor_of(m) not in (FLOORS.index("lua"), FLOORS.index("main"))))
    results.append((not wrong_lua, "only src/lua/ and src/main.c include lua.h" +
                    ("" if not wrong_lua else ": also " + ", ".join(wrong_lua))))
    print(f"1..{len(results)}")
    for i, (ok, what) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
