// After all tests: remove the log files and runtime folders the workers used (spec/setup-env.ts).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = async () => {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (name.startsWith('xapi-spdk-jest-')) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
};
