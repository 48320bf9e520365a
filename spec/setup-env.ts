// Tests never log into the host's /var/log.
import * as os from 'node:os';
import * as path from 'node:path';

process.env.XAPI_SPDK_LOG_FILE ??= path.join(os.tmpdir(), `xapi-spdk-jest-${process.pid}.log`);
process.env.XAPI_SPDK_RUN_DIR ??= path.join(os.tmpdir(), `xapi-spdk-jest-run-${process.pid}`);
