// Shared by the property tests (fast-check) of several units: whatever the options,
// responses, bodies, clock jumps and aborts, the client sends only good tokens, replays
// bodies byte for byte, and throws nothing but TokenError, the abort reason or the
// transport's own error. Each property reuses its servers across its runs.

import { fc } from "./_dev_deps.ts";

/** How many times each property runs. */
export const RUNS = 1000;

/** A short string of any code points. */
export const anyString: fc.Arbitrary<string> = fc.string({ unit: "binary", maxLength: 12 });
