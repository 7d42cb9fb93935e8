// The process-wide browser login flow's slot: `useImplicitFlow` and
// `useAuthorizationCodeFlow` fill it, `Client` reads it when it is created.
// Its own module, so that a client does not load the login code to look.

import type { Grant } from "./grant.ts";
import type { TokenStorage } from "./storage/token_storage.ts";

/** The grant and storage of the installed flow. */
export interface InstalledFlow {
  /** The grant of clients created without one. */
  readonly grant: Grant;
  /** The storage of those clients when they have none of their own. */
  readonly storage: TokenStorage;
}

let current: InstalledFlow | undefined;

/** The installed flow, if any: read by `Client` when it is created. */
export function installedFlow(): InstalledFlow | undefined {
  return current;
}

/** Installs `flow`; returns what uninstalls it (if it is still the installed one). */
export function setInstalledFlow(flow: InstalledFlow): () => void {
  current = flow;
  return () => {
    if (current === flow) current = undefined;
  };
}
