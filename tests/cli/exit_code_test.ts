import assert from "node:assert/strict";
import { EXIT_CODE, usageError } from "../../src/cli/exit_code.ts";
import { alf, isOneLineError } from "./_run.ts";

Deno.test("usageError() names the command's flags, not the library's option names", () => {
  const cases: [string, string][] = [
    [
      'Cannot configure the client: "tokenEndpoint" must use https: (or http: on a loopback host, or set "allowHttp"), got http:',
      "Cannot configure the client: --token-endpoint (ALF_TOKEN_ENDPOINT) must use https: (or http: on a loopback host, or pass --allow-http), got http:",
    ],
    [
      'Cannot configure the client: "tokenEndpoint" must not carry credentials; use "clientId" and "clientSecret"',
      "Cannot configure the client: --token-endpoint (ALF_TOKEN_ENDPOINT) must not carry credentials; use --client-id (ALF_CLIENT_ID) and --client-secret (ALF_CLIENT_SECRET)",
    ],
    [
      "Cannot configure the client: the port range must be [first, last] with 0 <= first <= last <= 65535",
      "Cannot configure the client: --login-ports (ALF_LOGIN_PORTS) must be FROM-TO with 0 <= FROM <= TO <= 65535",
    ],
    [
      'Cannot configure the client: "tokenParams" cannot set "scope"; use its own option',
      'Cannot configure the client: --token-param cannot set "scope"; use its own option',
    ],
    // The command's own messages are left as they are.
    [
      "Cannot parse the arguments: -d needs a value",
      "Cannot parse the arguments: -d needs a value",
    ],
  ];
  for (const [message, expected] of cases) {
    const error = usageError(message);
    assert.equal(error.message, expected);
    assert.equal(error.exitCode, EXIT_CODE.USAGE);
  }
});

Deno.test("alf reports configuration mistakes with its flags: --allow-http, FROM-TO", async () => {
  const env = { ALF_CLIENT_ID: "id" };
  const http = await alf(["token", "--token-endpoint", "http://auth.example.com/token"], { env });
  assert.equal(http.code, 2);
  assert.ok(isOneLineError(http.err), http.err);
  assert.match(
    http.err,
    /--token-endpoint \(ALF_TOKEN_ENDPOINT\) must use https: .*pass --allow-http/,
  );
  const ports = await alf(["token", "--login", "--login-ports", "5-3"], {
    env: { ...env, ALF_TOKEN_ENDPOINT: "http://127.0.0.1:9/token" },
  });
  assert.equal(ports.code, 2);
  assert.match(ports.err, /--login-ports \(ALF_LOGIN_PORTS\) must be FROM-TO with 0 <= FROM <= TO/);
  for (const err of [http.err, ports.err]) assert.ok(!/allowHttp|\[first, last\]/.test(err), err);
});
