// Which module's forward is running: a stack of module objects, pushed and popped around each
// forward, so that anomaly mode can say where an op ran ("in module shared.0"). Also the helper
// that wraps a forward (here on each module class, in the ONNX tracer on instances).
//
// Tracking costs one flag test per forward while anomaly mode is off.

/** What the path resolution needs of a module (nn.Module has it; duck-typed to avoid a cycle). */
interface ModuleLike {
  namedModules?(): Iterable<[string, unknown]>;
}

type Forward = (...args: unknown[]) => unknown;

const stack: object[] = [];
let tracking = false;

/** Turns the module stack on or off (anomaly mode does). */
export function setScopeTracking(on: boolean): void {
  tracking = on;
}

/** The modules whose forward is running, outermost first (a copy; empty when not tracking). */
export function currentScope(): object[] | undefined {
  return tracking && stack.length > 0 ? stack.slice() : undefined;
}

/**
 * Replaces `target.forward` (an own property of an instance or of a class prototype) by
 * `wrap(original, self, args)`; returns the function that puts the previous state back.
 */
export function wrapForward(target: object, wrap: (original: Forward, self: unknown, args: unknown[]) => unknown): () => void {
  const previous = Object.getOwnPropertyDescriptor(target, 'forward');
  const original = (target as { forward: Forward }).forward;
  Object.defineProperty(target, 'forward', {
    value: function forward(this: unknown, ...args: unknown[]): unknown {
      return wrap(original, this, args);
    },
    writable: true,
    configurable: true,
    enumerable: previous?.enumerable ?? false,
  });
  return () => {
    if (previous) Object.defineProperty(target, 'forward', previous);
    else delete (target as { forward?: unknown }).forward;
  };
}

const scopedPrototypes = new WeakSet<object>();

/**
 * Makes every forward defined along `prototype`'s chain (below `base`) run inside its module's
 * scope. Done once per class, from nn.Module's constructor, so instances stay plain.
 */
export function scopeForwardsOf(prototype: object | null, base: object): void {
  for (let p = prototype; p && p !== base; p = Object.getPrototypeOf(p)) {
    if (scopedPrototypes.has(p)) break; // its parents were done with it
    scopedPrototypes.add(p);
    const own = Object.getOwnPropertyDescriptor(p, 'forward');
    if (!own || typeof own.value !== 'function') continue;
    wrapForward(p, (original, self, args) => {
      // A subclass's forward calling super.forward stays in the same scope.
      if (!tracking || stack[stack.length - 1] === self) return original.apply(self, args);
      stack.push(self as object);
      try {
        return original.apply(self, args);
      } finally {
        stack.pop();
      }
    });
  }
}

/**
 * Dotted path of the innermost module of a scope, as the outermost module names it
 * ('shared.0', 'heads.left.1'); the outermost module's class name when only it was running.
 */
export function scopePath(scope: readonly object[]): string {
  const names: string[] = [];
  for (let i = 1; i < scope.length; i++) {
    const parent = scope[i - 1] as ModuleLike;
    const child = scope[i];
    let found: string | undefined;
    if (typeof parent.namedModules === 'function') {
      for (const [name, m] of parent.namedModules()) {
        if (m === child && name !== '') {
          found = name;
          break;
        }
      }
    }
    names.push(found ?? `<${child.constructor.name}>`);
  }
  return names.length > 0 ? names.join('.') : scope[0].constructor.name;
}
