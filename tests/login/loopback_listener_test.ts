import assert from "node:assert/strict";
import { TokenError, type TokenResult } from "../../mod.ts";
import { LoopbackListener } from "../../src/login/_loopback_listener.ts";
import { holdPorts, isFree } from "../_browser_login.ts";
import { getWithHost, guarded, holdBody } from "./_raw_client.ts";

const TOKEN: TokenResult = { token: { accessToken: "at", tokenType: "Bearer", issuedAt: 0 } };
const FOREVER = 60_000;

/** A listener on any free port, closed by `await using`. */
function listen(options?: { answerTimeout?: number }): LoopbackListener & AsyncDisposable {
  const listener = new LoopbackListener([0, 0], options);
  return Object.assign(listener, { [Symbol.asyncDispose]: () => listener.close() });
}

/** `listener.waitFor(state, complete)`, with no timeout to speak of and, unless given, no abort. */
function waitFor(
  listener: LoopbackListener,
  state: string,
  complete: (answer: URLSearchParams) => Promise<TokenResult> = () => Promise.resolve(TOKEN),
  signal = new AbortController().signal,
): Promise<TokenResult> {
  return listener.waitFor(state, complete, { timeout: FOREVER, signal });
}

function post(listener: LoopbackListener, body: string, headers: HeadersInit = {}) {
  return fetch(listener.redirectUri, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
}

/** Posts `body` as an answer and drops the response's body; returns its status. */
async function postStatus(
  listener: LoopbackListener,
  body: string,
  headers?: HeadersInit,
): Promise<number> {
  const response = await post(listener, body, headers);
  await response.body?.cancel();
  return response.status;
}

Deno.test("LoopbackListener() listens on the first free port of the range", async () => {
  using held = holdPorts(3, 2);
  const listener = new LoopbackListener(held.range);
  try {
    assert.equal(listener.port, held.range[0] + 2);
    assert.equal(listener.redirectUri, `http://127.0.0.1:${held.range[0] + 2}/callback`);
  } finally {
    await listener.close();
  }
  assert(isFree(held.range[0] + 2));
});

Deno.test("LoopbackListener() throws AddrInUse naming the range when every port is busy", () => {
  using held = holdPorts(2, 2);
  const [first, last] = held.range;
  assert.throws(() => new LoopbackListener(held.range), (error: Error) => {
    assert(error instanceof Deno.errors.AddrInUse);
    assert.equal(
      error.message,
      `Cannot listen for the browser login: every port from ${first} to ${last} on 127.0.0.1 is in use`,
    );
    return true;
  });
});

Deno.test("LoopbackListener.waitFor() completes with the fragment the page posts back", async () => {
  await using listener = listen();
  const answers: URLSearchParams[] = [];
  const login = waitFor(listener, "s1", (answer) => {
    answers.push(answer);
    return Promise.resolve(TOKEN);
  });

  const page = await fetch(listener.redirectUri);
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("cache-control"), "no-store");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const nonce = /<script nonce="([^"]+)">/.exec(html)?.[1];
  assert(nonce, "the page has a script with a nonce");
  assert.match(page.headers.get("content-security-policy")!, new RegExp(`'nonce-${nonce}'`));
  assert.match(html, /history\.replaceState/);
  assert.match(html, /method: "POST"/);
  assert.doesNotMatch(html, /location\.(assign|replace|reload)|location\.href\s*=/);

  const answer = await post(listener, "access_token=at&token_type=Bearer&state=s1", {
    Origin: `http://127.0.0.1:${listener.port}`,
  });
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), "Login complete, you can close this tab");
  assert.deepEqual(await login, TOKEN);
  assert.equal(answers[0]?.get("access_token"), "at");
});

Deno.test("LoopbackListener.waitFor() completes at once with an answer in the query", async () => {
  await using listener = listen();
  const login = waitFor(listener, "s1", (answer) => {
    assert.equal(answer.get("code"), "c1");
    return Promise.resolve(TOKEN);
  });
  const page = await fetch(`${listener.redirectUri}?code=c1&state=s1`);
  assert.equal(page.status, 200);
  assert.match(
    await page.text(),
    /<title>Login complete<\/title>[\s\S]*Login complete, you can close this tab/,
  );
  assert.deepEqual(await login, TOKEN);
});

Deno.test("LoopbackListener ignores an answer with another state and keeps waiting", async () => {
  await using listener = listen();
  let completions = 0;
  const login = waitFor(listener, "right", () => {
    completions++;
    return Promise.resolve(TOKEN);
  });
  for (const body of ["access_token=x&state=wrong", "access_token=x"]) {
    const answer = await post(listener, body);
    assert.equal(answer.status, 400);
    assert.match(await answer.text(), /does not belong to a login in progress/);
  }
  const forged = await fetch(`${listener.redirectUri}?code=x&state=wrong`);
  assert.equal(forged.status, 400);
  assert.match(await forged.text(), /Login failed/);
  assert.equal(completions, 0);
  assert.equal(await postStatus(listener, "access_token=x&state=right"), 200);
  assert.deepEqual(await login, TOKEN);
  assert.equal(completions, 1);
});

Deno.test("LoopbackListener accepts one answer per state", async () => {
  await using listener = listen();
  const login = waitFor(listener, "s1");
  await postStatus(listener, "access_token=x&state=s1");
  await login;
  assert.equal(await postStatus(listener, "access_token=x&state=s1"), 400);
});

Deno.test("LoopbackListener shows the error of a failed completion and rejects with it", async () => {
  await using listener = listen();
  const failure = new TokenError("Cannot log in: the authorization server answered access_denied");
  const login = waitFor(listener, "s1", () => Promise.reject(failure));
  const rejected = assert.rejects(login, (error) => error === failure);
  const answer = await post(listener, "error=access_denied&state=s1");
  assert.equal(answer.status, 400);
  assert.equal(
    await answer.text(),
    "Cannot log in: the authorization server answered access_denied. You can close this tab.",
  );
  await rejected;
});

Deno.test("LoopbackListener shows a token endpoint's error response as a failure", async () => {
  await using listener = listen();
  const error = new TokenError(
    "Cannot obtain a token: the token endpoint answered 400 (invalid_grant)",
  );
  const result: TokenResult = {
    errorResponse: { status: 400, statusText: "", headers: [], body: new Uint8Array(), error },
  };
  const login = waitFor(listener, "s1", () => Promise.resolve(result));
  const page = await fetch(`${listener.redirectUri}?code=c&state=s1`);
  assert.equal(page.status, 400);
  assert.match(await page.text(), /the token endpoint answered 400 \(invalid_grant\)/);
  assert.equal(await login, result);
});

Deno.test("LoopbackListener.waitFor() rejects after its timeout, and the state is then unknown", async () => {
  await using listener = listen();
  await assert.rejects(
    listener.waitFor("s1", () => Promise.resolve(TOKEN), {
      timeout: 20,
      signal: new AbortController().signal,
    }),
    (error: TokenError) => {
      assert(error instanceof TokenError);
      assert.equal(
        error.message,
        `Cannot log in: the browser did not come back to ${listener.redirectUri} within 20 ms`,
      );
      return true;
    },
  );
  assert.equal(await postStatus(listener, "access_token=x&state=s1"), 400);
});

Deno.test("LoopbackListener.waitFor() rejects when its signal aborts", async () => {
  await using listener = listen();
  const controller = new AbortController();
  const login = waitFor(listener, "s1", undefined, controller.signal);
  controller.abort(new Error("closed"));
  await assert.rejects(login, (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, "Cannot log in: the login was aborted");
    assert.equal((error.cause as Error).message, "closed");
    return true;
  });

  const own = new TokenError("Cannot log in: the browser could not be opened: no");
  await assert.rejects(
    listener.waitFor("s2", () => Promise.resolve(TOKEN), {
      timeout: FOREVER,
      signal: AbortSignal.abort(own),
    }),
    (error) => error === own,
  );
});

Deno.test("LoopbackListener.close() rejects the logins still waiting, and later ones", async () => {
  const listener = new LoopbackListener([0, 0]);
  const login = waitFor(listener, "s1");
  const rejected = assert.rejects(
    login,
    new TokenError("Cannot log in: the login listener was closed", { code: "closed" }),
  );
  await listener.close();
  await rejected;
  await assert.rejects(
    waitFor(listener, "s2"),
    /the login listener was closed/,
  );
  assert(isFree(listener.port));
});

Deno.test("LoopbackListener refuses other origins, paths, methods and oversized answers", async () => {
  await using listener = listen();
  let completions = 0;
  const controller = new AbortController();
  const login = waitFor(listener, "s1", () => {
    completions++;
    return Promise.resolve(TOKEN);
  }, controller.signal);

  assert.equal(
    await postStatus(listener, "access_token=x&state=s1", { Origin: "http://evil.test" }),
    403,
  );
  const elsewhere = await fetch(`http://127.0.0.1:${listener.port}/other?state=s1&code=x`);
  assert.equal(elsewhere.status, 404);
  await elsewhere.body?.cancel();
  const put = await fetch(listener.redirectUri, { method: "PUT", body: "state=s1" });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "GET, POST");
  await put.body?.cancel();
  assert.equal(await postStatus(listener, `state=s1&access_token=${"a".repeat(70_000)}`), 413);

  assert.equal(completions, 0);
  controller.abort();
  await assert.rejects(login, TokenError);
});

Deno.test("LoopbackListener.waitFor() completes while another connection withholds its body", async () => {
  await using listener = listen(); // close() again at the end changes nothing
  const login = waitFor(listener, "s1");
  using held = await holdBody(listener.port);
  using _heldGet = await holdBody(listener.port, "GET");
  const page = await fetch(`${listener.redirectUri}?code=c1&state=s1`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  assert.deepEqual(await guarded(login, "the login"), TOKEN);
  assert.equal(await guarded(listener.close().then(() => "closed"), "close()"), "closed");
  // The withheld answer is refused, not left hanging.
  assert.equal(await guarded(held.status(), "the held answer"), 503);
  assert(isFree(listener.port));
});

Deno.test("LoopbackListener.close() is prompt while connections withhold their bodies", async () => {
  await using listener = listen(); // close() again at the end changes nothing
  const login = waitFor(listener, "s1");
  const rejected = assert.rejects(login, /the login listener was closed/);
  using _post = await holdBody(listener.port);
  using _get = await holdBody(listener.port, "GET");
  using _other = await holdBody(listener.port, "PUT");
  assert.equal(await guarded(listener.close().then(() => "closed"), "close()"), "closed");
  await rejected;
  assert(isFree(listener.port));
});

Deno.test("LoopbackListener answers 408 to an answer whose body does not arrive in time, and goes on", async () => {
  await using listener = listen({ answerTimeout: 50 });
  const login = waitFor(listener, "s1");
  using held = await holdBody(listener.port);
  assert.equal(await guarded(held.status(), "the held answer"), 408);
  assert.equal(await postStatus(listener, "access_token=at&state=s1"), 200);
  assert.deepEqual(await login, TOKEN);
});

Deno.test("LoopbackListener refuses a Host that is not a loopback name with its port", async () => {
  await using listener = listen();
  let completions = 0;
  const controller = new AbortController();
  const login = waitFor(listener, "s1", () => {
    completions++;
    return Promise.resolve(TOKEN);
  }, controller.signal);
  const port = listener.port;
  const answer = "/callback?code=c1&state=s1";
  // DNS rebinding: another site's name resolved to 127.0.0.1.
  assert.equal(await getWithHost(port, answer, `evil.example:${port}`), 421);
  assert.equal(await getWithHost(port, answer, `127.0.0.1.evil.example:${port}`), 421);
  assert.equal(await getWithHost(port, answer, "evil.example"), 421);
  assert.equal(await getWithHost(port, answer, `127.0.0.1:${port === 65535 ? 1 : port + 1}`), 421);
  assert.equal(await getWithHost(port, answer, null), 421);
  assert.equal(completions, 0);
  assert.equal(await getWithHost(port, answer, `localhost:${port}`), 200);
  assert.deepEqual(await login, TOKEN);
  assert.equal(completions, 1);
});

Deno.test("LoopbackListener accepts the loopback names of its own port as Host", async () => {
  await using listener = listen();
  const port = listener.port;
  for (
    const host of [`127.0.0.1:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, `127.1.2.3:${port}`]
  ) {
    const login = waitFor(listener, "s");
    assert.equal(await getWithHost(port, "/callback?code=c&state=s", host), 200, host);
    assert.deepEqual(await login, TOKEN);
  }
});
