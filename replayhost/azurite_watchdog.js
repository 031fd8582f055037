// Preloaded into Azurite (`node -r azurite_watchdog.js azurite.js ...`): when the process that
// started Azurite is gone (SIGKILLed, crashed), Azurite stops too and, if it owned its temp
// data dir, removes it. A polite stop by PID is still the normal path; this covers the rest.
'use strict';
const fs = require('fs');

const starter = Number(process.env.HUBFAILOVER_AZURITE_PARENT || 0);
const ownedDir = process.env.HUBFAILOVER_AZURITE_OWNED_DIR || '';

function starterGone() {
  // Reparented (our parent died) or the recorded starter no longer exists.
  if (process.ppid !== starter) return true;
  try {
    process.kill(starter, 0);
    return false;
  } catch (err) {
    return err.code === 'ESRCH';
  }
}

if (starter > 0) {
  setInterval(() => {
    if (!starterGone()) return;
    if (ownedDir) {
      try { fs.rmSync(ownedDir, { recursive: true, force: true }); } catch (_) { /* best effort */ }
    }
    process.exit(0);
  }, 500).unref();
}
