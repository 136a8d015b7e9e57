import { setFlagsFromString } from 'node:v8';

// Imported first by main.ts. V8 grows the young generation up to 2 × 16 MiB semi-spaces under
// allocation bursts (a wave of logins) and keeps it: tens of MiB of RSS per process that an idle
// server never uses again. Heap sizes are fixed before any script runs, but the growth factor is
// read each time the young generation grows, so a factor of 1 keeps it at its initial size.
// `node --max-semi-space-size=…` on the command line still takes precedence when it is larger.
setFlagsFromString('--semi-space-growth-factor=1');
