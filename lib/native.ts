// Loads the native addon once. HYDRANET_ADDON overrides the path (tests of other builds).
import * as fs from 'fs';
import * as path from 'path';

export type NativeFunction = (...args: unknown[]) => unknown;

// The package root: lib/ when run from sources (tests), dist/lib/ when compiled.
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'CMakeLists.txt')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function candidatePaths(): string[] {
  const root = packageRoot();
  const fromEnv = process.env.HYDRANET_ADDON;
  return [
    ...(fromEnv ? [fromEnv] : []),
    path.join(root, 'build', 'Release', 'hydranet.node'),
    path.join(root, 'build', 'Debug', 'hydranet.node'),
  ];
}

function loadAddon(): Record<string, NativeFunction> {
  const tried: string[] = [];
  for (const candidate of candidatePaths()) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(candidate) as Record<string, NativeFunction>;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND') throw error;
      tried.push(candidate);
    }
  }
  throw new Error(
    `hydranet: the native addon is not built (looked in ${tried.join(', ')}); run \`npm run build:native\``,
  );
}

/** The raw addon. Each op family casts it to its own typed interface. */
export const addon: Record<string, NativeFunction> = loadAddon();

/** Typed view of the addon for one op family. */
export function bindings<T>(): T {
  return addon as unknown as T;
}
