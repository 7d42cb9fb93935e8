/**
 * The modules a `deno run` of a script loads before the script runs: its
 * static imports, followed to the end. A dynamic `import()` is left out: it
 * loads when it runs, if ever.
 *
 * @module
 */

/** What `deno info --json` prints of a module graph (the members read here). */
export interface ModuleGraph {
  roots: string[];
  modules: {
    specifier: string;
    /** Why the module cannot be loaded (a missing file, a syntax error), if it cannot. */
    error?: string;
    dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[];
  }[];
}

/** The module graph of the script at `path`, dynamic imports included. */
export async function moduleGraph(path: string): Promise<ModuleGraph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", "--no-lock", path],
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot read the module graph of ${path}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
}

/** The specifiers of the modules `path` loads statically, itself included. */
export async function staticModules(path: string): Promise<string[]> {
  const graph = await moduleGraph(path);
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const pending = [...graph.roots];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (loaded.has(next)) continue;
    loaded.add(next);
    for (const dependency of bySpecifier.get(next)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (!dependency.isDynamic && target !== undefined) pending.push(target);
    }
  }
  return [...loaded];
}
