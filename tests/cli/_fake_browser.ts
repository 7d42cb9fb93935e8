// Stands in for xdg-open in the login tests: visits the URL as a user's browser would.

import { ScriptedBrowser } from "../../testing.ts";

await using browser = new ScriptedBrowser();
await browser.open(Deno.args[0]);
