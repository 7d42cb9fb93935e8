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
    [[server.resourceUrl, "-d", "a", "--data", "b"], /--data is given more than once/],
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
