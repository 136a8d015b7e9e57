import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's young generation at its initial size. Under an allocation burst (a wave of logins)
 * V8 grows it up to 2 × 16 MiB semi-spaces and keeps them: tens of MiB of RSS an idle server never
 * uses again. Heap sizes are fixed before any script runs, but the growth factor is read each time
 * the young generation would grow, so setting it at boot still takes effect. Call it first in a
 * service's main.ts; `node --max-semi-space-size=…` still applies when given.
 */
/** The V8 flag capYoungGeneration sets. */
export const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

export function capYoungGeneration(): void {
  setFlagsFromString(YOUNG_GENERATION_FLAG);
}
