// Keeps secrets out of Deno.inspect, Node's util.inspect and JSON.stringify.

const denoInspect = Symbol.for("Deno.customInspect");
const nodeInspect = Symbol.for("nodejs.util.inspect.custom");

type Inspect = (value: unknown, options?: unknown) => string;

/**
 * Gives a class an inspect and a `toJSON` that show only `describe(instance)`,
 * a summary built without secrets.
 */
// deno-lint-ignore no-explicit-any
export function redactInspect<T extends abstract new (...args: any) => any>(
  type: T,
  describe: (instance: InstanceType<T>) => Record<string, unknown>,
): void {
  const prototype = type.prototype;
  for (const symbol of [denoInspect, nodeInspect]) {
    Object.defineProperty(prototype, symbol, {
      value(this: InstanceType<T>, ...args: unknown[]) {
        // Deno passes (inspect, options); Node passes (depth, options, inspect).
        const inspect = [args[0], args[2]].find((a) => typeof a === "function") as
          | Inspect
          | undefined;
        const summary = describe(this);
        const body = inspect ? inspect(summary, args[1]) : JSON.stringify(summary);
        return `${type.name} ${body}`;
      },
      configurable: true,
    });
  }
  Object.defineProperty(prototype, "toJSON", {
    value(this: InstanceType<T>) {
      return describe(this);
    },
    configurable: true,
  });
}
