// npm:oidc-provider (panva), an independently written authorization server,
// run in this process on 127.0.0.1 over node:http for the interoperability
// tests, beside a resource of the test's that checks tokens against the
// provider's own store.

import http from "node:http";
import type Provider from "npm:oidc-provider@9.13.3";

/**
 * Runs `create` without oidc-provider's start-up warnings about its
 * development defaults (in-memory adapter, development keys and pages, this
 * runtime), which are what a test wants.
 */
async function quietly<T>(create: () => T | Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith("oidc-provider WARNING")) warn(...args);
  };
  try {
    return await create();
  } finally {
    console.warn = warn;
  }
}

const { default: OidcProvider } = await quietly(() => import("npm:oidc-provider@9.13.3"));

/** How {@linkcode startProvider} sets oidc-provider up. */
export interface ProviderSetup {
  /** oidc-provider's configuration: clients, scopes, features, ttl. */
  configuration: Record<string, unknown>;
  /** Where to mount the provider, so that its issuer has a path (as Keycloak's realms do). */
  path?: string;
  /** Sees each request the provider gets, beside it (node streams cannot be read twice). */
  peek?(req: http.IncomingMessage): void;
  /** The resource: answers a request, checking its token against `provider`'s store. */
  resource(request: Request, provider: Provider): Response | Promise<Response>;
}

/** oidc-provider running on loopback, and the test's resource. */
export interface RunningProvider {
  issuer: string;
  provider: Provider;
  /** The resource's URL. */
  resourceUrl: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts oidc-provider on loopback with `setup`, and the resource beside it. */
export async function startProvider(setup: ProviderSetup): Promise<RunningProvider> {
  const { path = "", peek } = setup;
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}${path}`;
  const provider = await quietly(() => new OidcProvider(issuer, setup.configuration));
  const callback = provider.callback();
  server.on("request", (req, res) => {
    if (path !== "") {
      if (!req.url?.startsWith(`${path}/`)) {
        res.statusCode = 404;
        res.end();
        return;
      }
      // Mounted as Express would: oidc-provider reads the prefix from originalUrl.
      Object.assign(req, { originalUrl: req.url });
      req.url = req.url.slice(path.length);
    }
    peek?.(req);
    callback(req, res);
  });
  const resource = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => setup.resource(request, provider),
  );
  return {
    issuer,
    provider,
    resourceUrl: `http://127.0.0.1:${resource.addr.port}/api`,
    async [Symbol.asyncDispose]() {
      await resource.shutdown();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
