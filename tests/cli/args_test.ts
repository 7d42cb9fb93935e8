import assert from "node:assert/strict";
import {
  flagOption,
  listOption,
  type OptionSpec,
  parseArgs,
  stringOption,
} from "../../src/cli/_args.ts";
import { CliError, EXIT_CODE } from "../../src/cli/exit_code.ts";
import { startAuthServer } from "../../testing.ts";
import { alf, CREDENTIALS, envFor, isOneLineError } from "./_run.ts";

const SPECS: OptionSpec[] = [
  { name: "data", short: "d", value: true },
  { name: "header", short: "H", value: true, repeat: true },
  { name: "include", short: "i", value: false },
];

Deno.test("parseArgs() reads each way of writing an option, and keeps the positionals in order", () => {
  const parsed = parseArgs(
    ["GET", "-Ha: 1", "--header", "b: 2", "-i", "--data=x=y", "url", "--", "-i"],
    SPECS,
  );
  assert.deepEqual(parsed.positionals, ["GET", "url", "-i"]);
  assert.deepEqual(listOption(parsed, "header"), ["a: 1", "b: 2"]);
  assert.equal(stringOption(parsed, "data"), "x=y");
  assert.equal(flagOption(parsed, "include"), true);
  assert.deepEqual(parseArgs(["-d", "--", "-"], SPECS).positionals, ["-"]);
  assert.equal(stringOption(parseArgs(["-d", "--", "-"], SPECS), "data"), "--");
});

Deno.test("parseArgs() takes bundled switches as curl does; the last may take the rest as its value", () => {
  const specs: OptionSpec[] = [
    ...SPECS,
    { name: "silent", short: "s", value: false },
    { name: "show-error", short: "S", value: false },
    { name: "request", short: "X", value: true },
  ];
  const parsed = parseArgs(["-sSi", "-sXPOST", "url", "-sd", "-body"], specs);
  assert.deepEqual(parsed.positionals, ["url"]);
  assert.deepEqual(
    ["silent", "show-error", "include"].map((name) => flagOption(parsed, name)),
    [true, true, true],
  );
  assert.equal(stringOption(parsed, "request"), "POST");
  assert.equal(stringOption(parsed, "data"), "-body");
  assert.throws(
    () => parseArgs(["-sz"], specs),
    /^CliError: Cannot parse the arguments: unknown option -z$/,
  );
});

Deno.test("parseArgs() keeps every value option in order across names", () => {
  const specs: OptionSpec[] = [
    { name: "data", short: "d", value: true, repeat: true },
    { name: "data-raw", value: true, repeat: true },
    { name: "include", short: "i", value: false },
  ];
  const parsed = parseArgs(["-d", "a", "--data-raw=@b", "-i", "-dc"], specs);
  assert.deepEqual(parsed.values, [
    { name: "data", value: "a" },
    { name: "data-raw", value: "@b" },
    { name: "data", value: "c" },
  ]);
  assert.deepEqual(listOption(parsed, "data"), ["a", "c"]);
});

Deno.test("parseArgs() refuses an unsupported option with its reason, never its value", () => {
  const specs: OptionSpec[] = [
    { name: "user", short: "u", value: true, unsupported: "use -H instead" },
  ];
  for (const args of [["-u", "ada:pw"], ["-uada:pw"], ["--user=ada:pw"]]) {
    assert.throws(() => parseArgs(args, specs), (error) => {
      assert(error instanceof CliError);
      assert.equal(error.exitCode, EXIT_CODE.USAGE);
      assert.equal(
        error.message,
        "Cannot parse the arguments: -u/--user is not supported: use -H instead",
      );
      return true;
    });
  }
});

Deno.test("parseArgs() throws a usage error for an option whose value is missing", () => {
  for (const args of [["-d"], ["url", "--data"], ["-i", "-d"]]) {
    assert.throws(() => parseArgs(args, SPECS), (error) => {
      assert(error instanceof CliError);
      assert.equal(error.exitCode, EXIT_CODE.USAGE);
      assert.match(error.message, /^Cannot parse the arguments: (-d|--data) needs a value$/);
      return true;
    });
  }
});

Deno.test("alf exits 2 for a missing value, a repeated option, a value to a switch or an unknown option", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [string[], RegExp][] = [
    [[server.resourceUrl, "-d"], /-d needs a value/],
    [[server.resourceUrl, "-o", "a", "--output", "b"], /--output is given more than once/],
    [[server.resourceUrl, "--include=yes"], /--include takes no value/],
    [[server.resourceUrl, "-x"], /unknown option -x/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await alf(["request", ...args], { env: envFor(server) });
    assert.equal(code, 2, args.join(" "));
    assert.ok(isOneLineError(err), err);
    assert.match(err, message);
  }
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});

Deno.test("alf request sends a body that starts with a dash as given, and -- ends the options", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["request", "-d", "-x", "--", server.resourceUrl], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(new TextDecoder().decode(server.resourceRequests[0]?.body), "-x");
});
