#!/usr/bin/env python3
"""Counts the instructions of each innermost loop in a JIT disassembly (DOTNET_JitStdOutFile output).

For every method listed, every loop that contains no other loop (a label and the last branch back to it) is
printed with: all instructions, the multiply-adds among them (Arm64: fmla; x64: vfmadd*, or mulps/addps pairs
counted as one multiply and one add each), and the stack loads and stores (spills: [sp/fp] on Arm64,
[rsp/rbp] on x64). Usage: count-loops.py listing.asm
"""
import re
import sys

LABEL = re.compile(r"^(G_M\d+_IG\d+):")
METHOD = re.compile(r"^; Assembly listing for method (\S+)")
BRANCH = re.compile(r"^\s+(b\.?\w*|j\w+|cbn?z|tbn?z)\s+.*?(G_M\d+_IG\d+)\s*$")
STACK = re.compile(r"\[(sp|fp|rsp|rbp)\b")


def loops(lines):
    labels, instructions = {}, []
    for line in lines:
        m = LABEL.match(line)
        if m:
            labels[m.group(1)] = len(instructions)
            continue
        text = line.strip()
        if not text or text.startswith(";") or text.startswith("align") or not line.startswith(" "):
            continue
        instructions.append(text)
    found = []
    for i, text in enumerate(instructions):
        m = BRANCH.match(" " + text)
        if m and m.group(2) in labels and labels[m.group(2)] <= i:
            found.append((labels[m.group(2)], i))
    inner = [(s, e) for s, e in found if not any((s2, e2) != (s, e) and s <= s2 and e2 <= e for s2, e2 in found)]
    return [instructions[s:e + 1] for s, e in sorted(set(inner))]


def main(path):
    methods, name = {}, None
    for line in open(path, encoding="utf-8"):
        m = METHOD.match(line)
        if m:
            name = m.group(1).split(":")[-1]
            methods[name] = []
        elif name:
            methods[name].append(line.rstrip("\n"))
    print(f"{'method':58} {'loop':>4} {'instr':>5} {'fmla':>5} {'mul':>4} {'add':>4} {'stack':>5}  share")
    for name, lines in methods.items():
        for n, body in enumerate(loops(lines)):
            ops = [t.split()[0] for t in body]
            fma = sum(1 for o in ops if o == "fmla" or o.startswith("vfmadd"))
            mul = sum(1 for o in ops if o in ("mulps", "vmulps"))
            add = sum(1 for o in ops if o in ("addps", "vaddps"))
            stack = sum(1 for t in body if STACK.search(t))
            share = (fma + mul + add) / len(body)
            print(f"{name:58} {n:>4} {len(body):>5} {fma:>5} {mul:>4} {add:>4} {stack:>5}  {share:.0%}")


if __name__ == "__main__":
    main(sys.argv[1])
