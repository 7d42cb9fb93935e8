import assert from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  DeviceCodeGrant,
  type DeviceUserCode,
  TokenError,
} from "../../mod.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { ManualClock, serve } from "../_helpers.ts";

const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

function polls(server: AuthServer): number {
  return server.tokenRequests.filter((r) => r.form.get("grant_type") === DEVICE_CODE).length;
}

/** Opens the address with the code, as the user would on their phone. */
async function approve(code: DeviceUserCode | undefined): Promise<void> {
  const { verificationUri, verificationUriComplete, userCode } = code!;
  const response = await fetch(
    verificationUriComplete ?? `${verificationUri}?user_code=${userCode}`,
  );
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

/** A client of the kit with a device grant whose waits are recorded, not waited. */
function deviceClient(
  server: AuthServer,
  options: {
    interval?: number;
    clock?: ManualClock;
    onWait?: (waits: number[], codes: DeviceUserCode[]) => void | Promise<void>;
    approveAtOnce?: boolean;
    client?: Partial<ClientOptions>;
    endpoint?: string;
    timeout?: number;
  } = {},
) {
  const waits: number[] = [];
  const codes: DeviceUserCode[] = [];
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    now: options.clock?.now,
    ...options.client,
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: options.endpoint ?? server.url("/device_authorization"),
      interval: options.interval,
      timeout: options.timeout,
      onUserCode: async (code) => {
        codes.push(code);
        if (options.approveAtOnce) await approve(code);
      },
      delay: async (ms) => {
        waits.push(ms);
        await options.onWait?.(waits, codes);
      },
    }),
  });
  return { client, waits, codes };
}

Deno.test("DeviceCodeGrant.obtain() shows the codes once and polls until the user approves", async () => {
  await using server = await startAuthServer();
  const { client, waits, codes } = deviceClient(server, {
    onWait: async (waits, codes) => {
      if (waits.length === 3) await approve(codes[0]);
    },
  });
  await using _ = client;
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.equal(codes.length, 1);
  assert.equal(codes[0]?.userCode, "USER-0001");
  assert.equal(codes[0]?.verificationUri, server.url("/device"));
  assert.equal(codes[0]?.verificationUriComplete, server.url("/device?user_code=USER-0001"));
  assert.equal(codes[0]?.expiresIn, 600);
  assert.equal(polls(server), 3); // pending, pending, token
  assert.deepEqual(waits, [5000, 5000, 5000]); // the default interval
  const poll = server.tokenRequests[0]!.form;
  assert.match(poll.get("device_code") ?? "", /^dc-1-/);
  assert.equal(poll.get("client_id"), "cli");
});

Deno.test("DeviceCodeGrant.obtain() adds 5 s to the interval at each slow_down", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { answers: ["slow_down", "authorization_pending", "slow_down"] },
  });
  const { client, waits } = deviceClient(server, { interval: 1000, approveAtOnce: true });
  await using _ = client;
  await client.getToken();
  assert.deepEqual(waits, [1000, 6000, 6000, 11000]);
  assert.equal(polls(server), 4);
});

Deno.test("DeviceCodeGrant.obtain() waits the interval the server gives", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { interval: 2, answers: ["authorization_pending"] },
  });
  const { client, waits } = deviceClient(server, { interval: 1000, approveAtOnce: true });
  await using _ = client;
  await client.getToken();
  assert.deepEqual(waits, [2000, 2000]);
});

for (const answer of ["access_denied", "expired_token"]) {
  Deno.test(`DeviceCodeGrant.obtain() ends with login_failed on ${answer}`, async () => {
    await using server = await startAuthServer({
      deviceAuthorization: { answers: ["authorization_pending", answer] },
    });
    const { client } = deviceClient(server);
    await using _ = client;
    await assert.rejects(client.getToken(), (error: unknown) => {
      assert(error instanceof TokenError);
      assert.equal(error.code, "login_failed");
      assert.equal(error.error, answer);
      assert.equal(error.status, 400);
      return true;
    });
    assert.equal(polls(server), 2);
  });
}

Deno.test("DeviceCodeGrant.obtain() stops polling when the codes expire on the client's clock", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ deviceAuthorization: { expiresIn: 60 } });
  const { client, waits } = deviceClient(server, {
    clock,
    onWait: (waits) => {
      if (waits.length === 3) clock.advance(60_000);
      if (waits.length > 3) throw new Error("polled past the expiry");
    },
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "login_failed");
    assert.equal(error.error, "expired_token");
    return true;
  });
  assert.equal(waits.length, 3);
  assert.equal(polls(server), 2); // the third wait ended past the expiry: no third poll
});

Deno.test("DeviceCodeGrant.obtain() stops waiting when the client closes", async () => {
  await using server = await startAuthServer();
  const shown = Promise.withResolvers<void>();
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      interval: 3_600_000, // a real timer: only the close can end the wait
      onUserCode: () => shown.resolve(),
    }),
  });
  const token = client.getToken();
  const settled = token.then(() => undefined, (error: unknown) => error);
  await shown.promise;
  await client.close();
  const error = await settled;
  assert(error instanceof TokenError, String(error));
  assert.equal(error.code, "aborted");
  assert.equal(error.message, "Cannot log in: the login was aborted");
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() finds the device authorization endpoint by discovery", async () => {
  await using server = await startAuthServer({ deviceAuthorization: { interval: 0 } });
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new DeviceCodeGrant({ onUserCode: approve, interval: 0 }),
  });
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.equal(polls(server), 1);
});

Deno.test("DeviceCodeGrant.obtain() fails when no device authorization endpoint is known", async () => {
  // The kit advertises one: left out here, else the login would poll for real.
  await using server = await startAuthServer({
    metadata: { omit: ["device_authorization_endpoint"] },
  });
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new DeviceCodeGrant({ onUserCode: () => assert.fail("no code to show") }),
  });
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(
      error.message,
      'Cannot log in: no device authorization endpoint is known; give "deviceAuthorizationEndpoint", or an issuer whose metadata names one',
    );
    assert.equal(error.code, "grant_failed");
    return true;
  });
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("DeviceCodeGrant.obtain() keeps the device authorization endpoint's error", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s3cret" });
  const { client, codes } = deviceClient(server, { client: { clientSecret: "wrong" } });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(
      error.message,
      "Cannot log in: the device authorization endpoint answered 401 (invalid_client: Client authentication failed)",
    );
    assert.equal(error.code, "http_error");
    assert.equal(error.error, "invalid_client");
    assert.equal(error.errorDescription, "Client authentication failed");
    assert.equal(error.status, 401);
    return true;
  });
  assert.equal(codes.length, 0);
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.needsUser() is true without a refresh token", () => {
  const grant = new DeviceCodeGrant({ onUserCode: () => {} });
  assert.equal(grant.needsUser(undefined), true);
  assert.equal(
    grant.needsUser({ accessToken: "a", tokenType: "Bearer", refreshToken: "r" } as never),
    false,
  );
  assert.equal(grant.timeout, 900_000);
});

/** Requests to the device authorization endpoint, recorded by the client's transport. */
function recordingFetch() {
  const requests: { headers: Headers; form: URLSearchParams }[] = [];
  const transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).pathname === "/device_authorization") {
      const form = new URLSearchParams(await request.clone().text());
      requests.push({ headers: request.headers, form });
    }
    return await fetch(request);
  };
  return { transport, requests };
}

for (const clientAuth of ["client_secret_basic", "client_secret_post"] as const) {
  Deno.test(`DeviceCodeGrant.obtain() authenticates the device authorization request with ${clientAuth}`, async () => {
    await using server = await startAuthServer({ clientId: "cli", clientSecret: "s3cret" });
    const { transport, requests } = recordingFetch();
    const { client } = deviceClient(server, {
      approveAtOnce: true,
      client: { clientSecret: "s3cret", clientAuth, fetch: transport },
    });
    await using _ = client;
    const token = await client.getToken();
    assert(server.accepts(token.accessToken));
    assert.equal(requests.length, 1);
    const [{ headers, form }] = requests as [(typeof requests)[0]];
    if (clientAuth === "client_secret_basic") {
      assert.equal(headers.get("authorization"), `Basic ${btoa("cli:s3cret")}`);
      assert.equal(form.get("client_secret"), null);
    } else {
      assert.equal(headers.get("authorization"), null);
      assert.deepEqual([form.get("client_id"), form.get("client_secret")], ["cli", "s3cret"]);
    }
    // The polls authenticate the same way ([RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)).
    assert.equal(server.tokenRequests[0]?.clientAuthMethod, clientAuth);
  });
}

Deno.test("DeviceCodeGrant.obtain() sends the scope with the device authorization request, not with the polls", async () => {
  await using server = await startAuthServer();
  const { transport, requests } = recordingFetch();
  const { client } = deviceClient(server, {
    approveAtOnce: true,
    client: { scope: "read write", fetch: transport },
  });
  await using _ = client;
  const token = await client.getToken();
  assert.equal(requests[0]?.form.get("scope"), "read write");
  assert.equal(server.tokenRequests[0]?.form.get("scope"), null);
  assert.equal(token.scope, "read write");
});

Deno.test("DeviceCodeGrant.obtain() renews its token with the refresh token, without a new code", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  const { transport, requests } = recordingFetch();
  const { client, codes } = deviceClient(server, {
    clock,
    approveAtOnce: true,
    client: { fetch: transport },
  });
  await using _ = client;
  const first = await client.getToken();
  assert.equal(first.refreshToken, server.issuedRefreshTokens[0]);
  clock.advance(60_000);
  const renewed = await client.getToken();
  assert.equal(renewed.accessToken, server.issuedTokens[1]);
  assert(server.accepts(renewed.accessToken));
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    DEVICE_CODE,
    "refresh_token",
  ]);
  assert.equal(server.tokenRequests[1]?.form.get("refresh_token"), first.refreshToken);
  assert.equal(codes.length, 1);
  assert.equal(requests.length, 1);
});

/**
 * Serves the kit's device codes at `path`, as `reshape` rewrites them: a
 * server with its own idea of the response.
 */
function reshapedCodes(
  server: AuthServer,
  path: string,
  reshape: (codes: Record<string, unknown>) => Record<string, unknown>,
): string {
  server.route(path, async (_request, recorded) => {
    const response = await fetch(server.url("/device_authorization"), {
      method: "POST",
      headers: recorded.headers,
      body: recorded.body.slice(),
    });
    return Response.json(reshape(await response.json()));
  });
  return server.url(path);
}

Deno.test("DeviceCodeGrant.obtain() reads Google's verification_url, and numbers given as strings", async () => {
  await using server = await startAuthServer();
  const endpoint = reshapedCodes(server, "/device/code", (codes) => ({
    device_code: codes.device_code,
    user_code: codes.user_code,
    verification_url: codes.verification_uri,
    expires_in: "1800",
    interval: "2",
  }));
  const { client, codes, waits } = deviceClient(server, { endpoint, approveAtOnce: true });
  await using _ = client;
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.deepEqual(codes, [{
    userCode: "USER-0001",
    verificationUri: server.url("/device"),
    verificationUriComplete: undefined,
    expiresIn: 1800,
  }]);
  assert.deepEqual(waits, [2000]);
});

Deno.test("DeviceCodeGrant.obtain() bounds codes without expires_in by its timeout", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer();
  const endpoint = reshapedCodes(server, "/codes", ({ expires_in: _, ...codes }) => codes);
  const { client, codes } = deviceClient(server, {
    endpoint,
    clock,
    onWait: () => clock.advance(900_000),
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "login_failed");
    assert.equal(error.error, "expired_token");
    return true;
  });
  assert.equal(codes[0]?.expiresIn, 900); // the default timeout, 15 minutes
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() slows down to a slow_down's interval or a 429's Retry-After, never faster", async () => {
  await using server = await startAuthServer();
  const answers = [
    Response.json({ error: "slow_down", interval: 20 }, { status: 400 }), // GitHub's
    Response.json({ error: "slow_down", interval: "1" }, { status: 400 }),
    new Response("Too many requests", { status: 429, headers: { "Retry-After": "30" } }),
    Response.json({ error: "too_many_requests" }, { status: 429 }),
  ];
  await using proxy = serve(async (request) =>
    answers.shift() ??
      await fetch(server.tokenEndpoint, {
        method: "POST",
        headers: request.headers,
        body: await request.arrayBuffer(),
      })
  );
  const { client, waits } = deviceClient(server, {
    interval: 1000,
    approveAtOnce: true,
    client: { tokenEndpoint: `${proxy.url}/token` },
  });
  await using _ = client;
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.deepEqual(waits, [1000, 20_000, 25_000, 30_000, 35_000]);
});

Deno.test("DeviceCodeGrant.obtain() refuses a malformed device authorization response", async () => {
  const cases: [string, string][] = [
    ["not json", "it is not a JSON object"],
    ["[]", "it is not a JSON object"],
    ['{"user_code":"U","verification_uri":"https://x","expires_in":60}', '"device_code" is'],
    ['{"device_code":"D","user_code":"","verification_uri":"https://x"}', '"user_code" is'],
    ['{"device_code":"D","user_code":"U","expires_in":60}', '"verification_uri" is'],
    [
      '{"device_code":"D","user_code":"U","verification_uri":"https://x","expires_in":0}',
      '"expires_in" is not a positive number',
    ],
    [
      '{"device_code":"D","user_code":"U","verification_uri":"https://x","expires_in":"soon"}',
      '"expires_in" is not a positive number',
    ],
    [
      '{"device_code":"D","user_code":"U","verification_uri":"https://x","expires_in":60,"interval":-1}',
      '"interval" is not a number >= 0',
    ],
    [
      '{"device_code":"D","user_code":"U","verification_uri":"https://x","expires_in":60,"interval":"soon"}',
      '"interval" is not a number >= 0',
    ],
  ];
  await using server = await startAuthServer();
  for (const [body, why] of cases) {
    server.route(
      "/codes",
      () => new Response(body, { headers: { "Content-Type": "application/json" } }),
    );
    const { client, codes } = deviceClient(server, { endpoint: server.url("/codes") });
    await using _ = client;
    await assert.rejects(client.getToken(), (error: unknown) => {
      assert(error instanceof TokenError);
      assert(
        error.message.startsWith(`Cannot parse the device authorization response: ${why}`),
        `${body}: ${error.message}`,
      );
      assert.equal(error.code, "invalid_response");
      assert.equal(error.status, 200);
      return true;
    });
    assert.equal(codes.length, 0, body);
  }
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() reports a device authorization endpoint's error without an OAuth body", async () => {
  await using server = await startAuthServer();
  server.route("/codes", () => new Response("<h1>Oops</h1>", { status: 500 }));
  const { client } = deviceClient(server, { endpoint: server.url("/codes") });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, "Cannot log in: the device authorization endpoint answered 500");
    assert.equal(error.code, "http_error");
    assert.equal(error.status, 500);
    assert.equal(error.error, undefined);
    return true;
  });
});

Deno.test("DeviceCodeGrant.obtain() reports a device authorization endpoint it cannot reach", async () => {
  await using server = await startAuthServer();
  const gone = serve(() => new Response());
  await gone.close();
  const endpoint = `${gone.url}/device_authorization`;
  const { client } = deviceClient(server, { endpoint });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert(
      error.message.startsWith(`Cannot reach the device authorization endpoint ${endpoint}: `),
      error.message,
    );
    assert.equal(error.code, "network_error");
    return true;
  });
});

Deno.test("DeviceCodeGrant.obtain() ends with login_failed when onUserCode throws", async () => {
  await using server = await startAuthServer();
  const failure = new Error("stderr is closed");
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      onUserCode: () => Promise.reject(failure),
    }),
  });
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, 'Cannot log in: "onUserCode" failed');
    assert.equal(error.code, "login_failed");
    assert.equal(error.cause, failure);
    return true;
  });
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() ends with the token endpoint's answer on another error", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { answers: ["authorization_pending", "invalid_grant"] },
  });
  const { client } = deviceClient(server);
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.error, "invalid_grant");
    assert.equal(error.status, 400);
    return true;
  });
  assert.equal(polls(server), 2);
});

Deno.test("DeviceCodeGrant.obtain() lets a caller abort its wait at once", async () => {
  await using server = await startAuthServer();
  const shown = Promise.withResolvers<void>();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      interval: 3_600_000, // a real timer: only the abort can end the wait
      onUserCode: () => shown.resolve(),
    }),
  });
  const controller = new AbortController();
  const token = client.getToken({ signal: controller.signal });
  const settled = token.then(() => undefined, (error: unknown) => error);
  await shown.promise;
  const reason = new Error("the user pressed Ctrl-C");
  controller.abort(reason);
  assert.equal(await settled, reason);
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant() refuses malformed and unknown options, fetch included", () => {
  const onUserCode = () => {};
  const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
    [{}, TypeError, /"onUserCode" must be a function/],
    [{ onUserCode, interval: -1 }, RangeError, /"interval" must be milliseconds >= 0/],
    [
      { onUserCode, timeout: 0 },
      RangeError,
      /"timeout" must be a finite number of milliseconds >= 1/,
    ],
    // A timeout a timer cannot hold would end the login at once.
    [{ onUserCode, timeout: 2 ** 31 }, RangeError, /"timeout" must be .* <= 2147483647/],
    [{ onUserCode, deviceAuthorizationEndpoint: "ftp://x/" }, TypeError, /must use https:/],
    // The device authorization request goes through the client's transport now.
    [{ onUserCode, fetch }, TypeError, /fetch/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(
      () => new DeviceCodeGrant(options as never),
      (error: unknown) => error instanceof type && message.test(error.message),
    );
  }
});

Deno.test("DeviceCodeGrant.obtain() waits at least 1 s between polls, whatever interval the server says", async () => {
  // RFC 8628 §3.5: the client waits at least the interval; a server's 0 is no reason to hammer it.
  for (
    const [serverInterval, option, expected] of [
      [0, undefined, 1000],
      [0.2, undefined, 1000],
      [0, 5000, 1000],
      [0, 200, 200], // a smaller interval option lowers the floor (tests)
      [0, 0, 0],
      [3, 200, 3000], // a longer server interval is kept
    ] as const
  ) {
    await using server = await startAuthServer({
      deviceAuthorization: { interval: serverInterval, answers: ["authorization_pending"] },
    });
    const { client, waits } = deviceClient(server, { interval: option, approveAtOnce: true });
    await using _ = client;
    const token = await client.getToken();
    assert(server.accepts(token.accessToken));
    assert.deepEqual(waits, [expected, expected], `server ${serverInterval} s, option ${option}`);
    assert.equal(polls(server), 2);
  }
});

/** A device client whose waits move its clock by what they wait, as real waits would. */
function clockedDeviceClient(
  server: AuthServer,
  options: { timeout?: number; client?: Partial<ClientOptions> } = {},
) {
  const clock = new ManualClock();
  const client = deviceClient(server, {
    clock,
    timeout: options.timeout,
    client: options.client,
    onWait: (waits) => {
      if (waits.length > 100) throw new Error("polled on and on");
      clock.advance(waits.at(-1)!);
    },
  });
  return { ...client, clock };
}

Deno.test("DeviceCodeGrant.obtain() ends at the codes' expiry, not at the next poll", async () => {
  const cases = [
    // expires_in 2 s, interval 20 s: one wait of 2 s, then the end; no poll.
    { expiresIn: 2, interval: 20, waits: [2000], polls: 0 },
    // The last wait is cut to the expiry, and no poll follows it.
    { expiresIn: 12, interval: 5, waits: [5000, 5000, 2000], polls: 2 },
  ];
  for (const { expiresIn, interval, waits: expected, polls: count } of cases) {
    await using server = await startAuthServer({ deviceAuthorization: { expiresIn, interval } });
    const { client, waits, clock } = clockedDeviceClient(server);
    await using _ = client;
    const started = clock.now();
    await assert.rejects(client.getToken(), (error: unknown) => {
      assert(error instanceof TokenError);
      assert.equal(error.message, "Cannot log in: the device code expired before it was approved");
      assert.equal(error.code, "login_failed");
      assert.equal(error.error, "expired_token");
      return true;
    });
    assert.deepEqual(waits, expected);
    assert.equal(clock.now() - started, expiresIn * 1000);
    assert.equal(polls(server), count);
  }
});

Deno.test("DeviceCodeGrant.obtain() ends with a timeout TokenError at its own timeout", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { expiresIn: 600, interval: 1 },
  });
  const { client, waits, clock } = clockedDeviceClient(server, { timeout: 1500 });
  await using _ = client;
  const started = clock.now();
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(
      error.message,
      'Cannot log in: the device login was not approved within 1500 ms (the DeviceCodeGrant\'s "timeout")',
    );
    assert.equal(error.code, "timeout");
    return true;
  });
  assert.deepEqual(waits, [1000, 500]);
  assert.equal(clock.now() - started, 1500);
  assert.equal(polls(server), 1);
});

Deno.test("DeviceCodeGrant.obtain() ends at its timeout however slow the server asks it to poll", async () => {
  await using server = await startAuthServer();
  await using slow = serve(async (request) => {
    await request.body?.cancel();
    return Response.json({ error: "slow_down", interval: 1e15 }, { status: 400 });
  });
  const { client, waits } = clockedDeviceClient(server, {
    timeout: 60_000,
    client: { tokenEndpoint: `${slow.url}/token` },
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "timeout");
    return true;
  });
  assert.deepEqual(waits, [5000, 55_000]);
});

Deno.test("DeviceCodeGrant.obtain() refuses verification addresses that are not https: URLs", async () => {
  const codes = { device_code: "D", user_code: "U", expires_in: 60 };
  const cases: [Record<string, unknown>, string][] = [
    [{ verification_uri: "javascript:alert(1)" }, '"verification_uri" is not an https: URL'],
    [{ verification_uri: "data:text/html,<h1>x" }, '"verification_uri" is not an https: URL'],
    [{ verification_uri: "http://auth.example/device" }, '"verification_uri" is not an https: URL'],
    [
      { verification_uri: "https://me:pw@auth.example/" },
      '"verification_uri" is not an https: URL',
    ],
    [{ verification_uri: "go to evil.example now" }, '"verification_uri" is not a URL'],
    [{ verification_url: "file:///etc/passwd" }, '"verification_uri" is not an https: URL'],
    [
      {
        verification_uri: "https://auth.example/device",
        verification_uri_complete: "javascript:fetch('//evil')//https://ok",
      },
      '"verification_uri_complete" is not an https: URL',
    ],
  ];
  await using server = await startAuthServer();
  for (const [addresses, why] of cases) {
    server.route("/codes", () => Response.json({ ...codes, ...addresses }));
    const { client, codes: shown } = deviceClient(server, { endpoint: server.url("/codes") });
    await using _ = client;
    await assert.rejects(client.getToken(), (error: unknown) => {
      assert(error instanceof TokenError);
      assert(
        error.message.startsWith(`Cannot parse the device authorization response: ${why}`),
        `${JSON.stringify(addresses)}: ${error.message}`,
      );
      assert.equal(error.code, "invalid_response");
      return true;
    });
    assert.equal(shown.length, 0, JSON.stringify(addresses));
  }
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() shows the verification addresses serialized", async () => {
  await using server = await startAuthServer({ deviceAuthorization: { interval: 0 } });
  const endpoint = reshapedCodes(server, "/codes", (codes) => ({
    ...codes,
    verification_uri: "HTTPS://Auth.Example/device\u202e\u0007 now",
    verification_uri_complete: `${codes.verification_uri_complete}&x=\u200b`,
  }));
  const { client, codes } = deviceClient(server, { endpoint, interval: 0, approveAtOnce: true });
  await using _ = client;
  await client.getToken();
  assert.equal(codes[0]?.verificationUri, "https://auth.example/device%E2%80%AE%07%20now");
  assert.equal(
    codes[0]?.verificationUriComplete,
    server.url("/device?user_code=USER-0001&x=%E2%80%8B"),
  );
});

Deno.test("DeviceCodeGrant.obtain() names the device authorization endpoint in its error, and carries its answer", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s3cret" });
  const { client } = deviceClient(server, { client: { clientSecret: "wrong" } });
  await using _ = client;
  const error = await client.getToken().then(() => undefined, (error: unknown) => error);
  assert(error instanceof TokenError);
  // No cause that says "the token endpoint answered 401": the error is the answer.
  assert.equal(error.cause, undefined);
  assert.equal(error.status, 401);
  assert.equal(JSON.parse(error.body ?? "").error, "invalid_client");
  assert.match(error.headers?.get("content-type") ?? "", /json/);
  assert(!error.message.includes("token endpoint"), error.message);
});
