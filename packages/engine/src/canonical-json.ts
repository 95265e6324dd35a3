/**
 * JSON with object keys sorted and no whitespace: equal values always give equal text (and equal hashes).
 * Iterative, so a deeply nested value cannot exhaust the call stack.
 */
export function canonicalJson(v: unknown): string {
  const out: string[] = [];
  // work items, popped from the end: a literal to write, or a value to serialise
  const stack: (string | { v: unknown })[] = [{ v }];
  while (stack.length) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const x = item.v;
    if (Array.isArray(x)) {
      stack.push(']');
      for (let i = x.length - 1; i >= 0; i--) {
        stack.push({ v: x[i] === undefined ? null : x[i] });
        if (i > 0) stack.push(',');
      }
      stack.push('[');
    } else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
      stack.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ v: o[keys[i]] });
        stack.push(`${JSON.stringify(keys[i])}:`);
        if (i > 0) stack.push(',');
      }
      stack.push('{');
    } else {
      out.push(JSON.stringify(x) ?? 'null');
    }
  }
  return out.join('');
}

/** How deeply arrays and objects nest in JSON text, counted without parsing (and without recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) max = depth;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return max;
}
