// A small GBNF recognizer for tests: parses the grammar text Driftlens writes (rules, literals,
// character classes, groups, alternation, ?, *, +, {m}, {m,}, {m,n}) and says whether a whole
// string matches the root rule. Independent of the converter (it reads the text, not the
// converter's data), so converter and recognizer must agree on GBNF for a test to pass; llama.cpp
// itself is exercised by the generation tests.

type Node =
  | { k: "lit"; cps: number[] }
  | { k: "cls"; neg: boolean; ranges: [number, number][] }
  | { k: "ref"; name: string }
  | { k: "seq"; items: Node[] }
  | { k: "alt"; items: Node[] }
  | { k: "rep"; e: Node; min: number; max: number };

class Parser {
  i = 0;
  constructor(private readonly s: string) {}
  private ws(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }
  private esc(): number {
    const c = this.s[this.i++]!;
    if (c === "n") return 10;
    if (c === "r") return 13;
    if (c === "t") return 9;
    if (c === "x") {
      const h = this.s.slice(this.i, this.i + 2);
      this.i += 2;
      return parseInt(h, 16);
    }
    return c.codePointAt(0)!;
  }
  private char(): number {
    const cp = this.s.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }
  alt(): Node {
    const items = [this.seq()];
    for (;;) {
      this.ws();
      if (this.s[this.i] !== "|") break;
      this.i++;
      items.push(this.seq());
    }
    return items.length === 1 ? items[0]! : { k: "alt", items };
  }
  seq(): Node {
    const items: Node[] = [];
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined || c === "|" || c === ")" || c === "\n") break;
      items.push(this.postfix(this.primary()));
    }
    return items.length === 1 ? items[0]! : { k: "seq", items };
  }
  primary(): Node {
    const c = this.s[this.i]!;
    if (c === '"') {
      this.i++;
      const cps: number[] = [];
      while (this.s[this.i] !== '"') {
        if (this.s[this.i] === "\\") {
          this.i++;
          cps.push(this.esc());
        } else cps.push(this.char());
      }
      this.i++;
      return { k: "lit", cps };
    }
    if (c === "[") {
      this.i++;
      let neg = false;
      if (this.s[this.i] === "^") {
        neg = true;
        this.i++;
      }
      const ranges: [number, number][] = [];
      while (this.s[this.i] !== "]") {
        const a = this.s[this.i] === "\\" ? (this.i++, this.esc()) : this.char();
        let b = a;
        if (this.s[this.i] === "-" && this.s[this.i + 1] !== "]") {
          this.i++;
          b = this.s[this.i] === "\\" ? (this.i++, this.esc()) : this.char();
        }
        ranges.push([a, b]);
      }
      this.i++;
      return { k: "cls", neg, ranges };
    }
    if (c === "(") {
      this.i++;
      const e = this.alt();
      this.ws();
      if (this.s[this.i] !== ")") throw new Error(`expected ')' at ${this.i}`);
      this.i++;
      return e;
    }
    const m = /^[a-zA-Z0-9-]+/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    this.i += m[0].length;
    return { k: "ref", name: m[0] };
  }
  postfix(e: Node): Node {
    const c = this.s[this.i];
    if (c === "?") return this.i++, { k: "rep", e, min: 0, max: 1 };
    if (c === "*") return this.i++, { k: "rep", e, min: 0, max: Infinity };
    if (c === "+") return this.i++, { k: "rep", e, min: 1, max: Infinity };
    if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i))!;
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      return { k: "rep", e, min, max };
    }
    return e;
  }
}

export interface Grammar {
  rules: Map<string, Node>;
}

export function parseGbnf(text: string): Grammar {
  const rules = new Map<string, Node>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const m = /^([a-zA-Z0-9-]+) ::= (.*)$/.exec(line);
    if (!m) throw new Error(`not a rule: ${line}`);
    const p = new Parser(m[2]!);
    const e = p.alt();
    if (p.i !== m[2]!.length) throw new Error(`trailing text in rule ${m[1]}: ${m[2]!.slice(p.i)}`);
    rules.set(m[1]!, e);
  }
  for (const [name, e] of rules) checkRefs(e, rules, name);
  return { rules };
}

function checkRefs(e: Node, rules: Map<string, Node>, where: string): void {
  if (e.k === "ref" && !rules.has(e.name)) throw new Error(`rule ${where} refers to undefined rule ${e.name}`);
  if (e.k === "seq" || e.k === "alt") e.items.forEach((i) => checkRefs(i, rules, where));
  if (e.k === "rep") checkRefs(e.e, rules, where);
}

/** Whether `text` as a whole matches the grammar's root rule. */
export function matches(g: Grammar, text: string): boolean {
  const cps = Array.from(text, (c) => c.codePointAt(0)!);
  const memo = new Map<string, Set<number>>();
  const ends = (e: Node, pos: number): Set<number> => {
    switch (e.k) {
      case "lit": {
        for (let j = 0; j < e.cps.length; j++) if (cps[pos + j] !== e.cps[j]) return new Set();
        return new Set([pos + e.cps.length]);
      }
      case "cls": {
        const c = cps[pos];
        if (c === undefined) return new Set();
        const inside = e.ranges.some(([a, b]) => c >= a && c <= b);
        return inside !== e.neg ? new Set([pos + 1]) : new Set();
      }
      case "ref": {
        const key = `${e.name}@${pos}`;
        const hit = memo.get(key);
        if (hit) return hit;
        memo.set(key, new Set()); // no left recursion in the grammars tested
        const r = ends(g.rules.get(e.name)!, pos);
        memo.set(key, r);
        return r;
      }
      case "seq": {
        let cur = new Set([pos]);
        for (const item of e.items) {
          const next = new Set<number>();
          for (const p of cur) for (const q of ends(item, p)) next.add(q);
          cur = next;
          if (cur.size === 0) break;
        }
        return cur;
      }
      case "alt": {
        const out = new Set<number>();
        for (const item of e.items) for (const q of ends(item, pos)) out.add(q);
        return out;
      }
      case "rep": {
        const out = new Set<number>();
        let cur = new Set([pos]);
        if (e.min === 0) out.add(pos);
        for (let n = 1; n <= e.max && cur.size > 0; n++) {
          const next = new Set<number>();
          for (const p of cur) for (const q of ends(e.e, p)) if (q !== p || n <= e.min) next.add(q);
          cur = next;
          if (n >= e.min) for (const q of cur) out.add(q);
          if (n > cps.length + e.min + 1) break;
        }
        return out;
      }
    }
  };
  return ends({ k: "ref", name: "root" }, 0).has(cps.length);
}
