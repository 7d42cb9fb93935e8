// One check for misspelled options: an unknown name is an error, not silence.

/**
 * Refuses an options object that has a name not in `known`, naming the
 * nearest known one: `clientSecert` would otherwise make a client with no
 * secret, and `prefx` a storage that shares the default prefix.
 *
 * The names checked are the object's own enumerable string keys
 * (`Object.keys`): what a spread (`{ ...options }`) or `Object.assign`
 * copies, so an object that passes here still passes once copied.
 * Inherited names (a class instance's getters, `Object.prototype`'s
 * members), non-enumerable names and symbols are not checked: they are not
 * the options someone wrote in a literal, and refusing them would refuse
 * objects that work. Call it before reading any option, so that a misspelled
 * name is reported before what its absence would cause.
 *
 * @param options The options object; anything else is refused too.
 * @param known Every option name, as a record so that a type can require each
 *   name of the options interface (`satisfies Record<keyof Options, true>`).
 * @param context What the options are for, for messages: `client`,
 *   `KV token storage`, `implicit flow`, ...
 * @param verb What is being done with it, for messages: `create` (the
 *   default), `use`, `start`, `test`.
 * @throws {TypeError} when `options` is not an object, and on its first
 *   unknown name: `Cannot create the client: unknown option "clientSecert";
 *   did you mean "clientSecret"?`.
 */
export function checkKnownOptions(
  options: unknown,
  known: Readonly<Record<string, true>>,
  context: string,
  verb = "create",
): void {
  const prefix = `Cannot ${verb} the ${context}`;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${prefix}: options must be an object`);
  }
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(known, name)) continue;
    const nearest = nearestName(name, Object.keys(known));
    const hint = nearest === undefined ? "" : `; did you mean "${nearest}"?`;
    throw new TypeError(`${prefix}: unknown option "${name}"${hint}`);
  }
}

/**
 * The name closest to `name` in edit distance (letter case aside), if it is
 * close enough to be a misspelling: at most 2 edits, or a third of the name.
 */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const allowed = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of names) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The number of insertions, deletions, substitutions and swaps of two
 * neighbours that turn `a` into `b` (optimal string alignment distance).
 */
function editDistance(a: string, b: string): number {
  // Three rows of the table: two back (for swaps), one back, and this one.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, before[j - 2]! + 1);
      }
      current[j] = distance;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length]!;
}
