// The development dependencies of the tests, pinned here rather than in deno.json's import
// map: the library, the CLI and the demo then run with nothing fetched (a package in the import
// map is installed by any `deno run` in the project).

export { default as fc } from "npm:fast-check@4.11.0";
export { Redis } from "npm:ioredis@6.0.0";
export { createClient } from "npm:redis@6.3.1";
