/**
 * JSON.parse keeps the last of two equal keys without a word. A safetensors header with a tensor
 * named twice is corrupt, so this scans text that JSON.parse already accepted and reports the
 * first key that repeats inside one object, with the keys of the objects around it.
 */
export interface DuplicateKey {
  /** Keys of the enclosing objects/arrays, outermost first (array positions as numbers). */
  path: (string | number)[];
  key: string;
}

interface Frame {
  keys: Set<string> | null; // null for arrays
  expectKey: boolean;
  lastKey: string | number;
  index: number;
}

/** `text` must be valid JSON (call JSON.parse first); returns null when no object repeats a key. */
export function findDuplicateKey(text: string): DuplicateKey | null {
  const stack: Frame[] = [];
  const pathOf = () => stack.slice(0, -1).map((f) => f.lastKey);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '{' || c === '[') {
      if (top && top.keys === null) top.lastKey = top.index;
      stack.push({ keys: c === '{' ? new Set() : null, expectKey: c === '{', lastKey: '', index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      if (top.keys) top.expectKey = true;
      else top.index++;
    } else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (top && top.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string; // decodes escapes: "\u0061" equals "a"
        if (top.keys.has(key)) return { path: pathOf(), key };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
    }
  }
  return null;
}
