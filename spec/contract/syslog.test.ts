// With a syslog socket at /dev/log, plugins log there as XCP-ng's Python
// plugins do: facility local2, "SMAPIv3: [pid] - LEVEL - message".
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T } from '../harness/rpclib';
import { srCreate } from '../harness/fixtures';
import { Host } from '../harness/xss';

const haveSyslog = fs.existsSync('/dev/log');
const canBind = !haveSyslog && process.getuid?.() === 0;
if (!canBind) console.warn(`syslog test skipped: ${haveSyslog ? 'a real syslog owns /dev/log' : 'binding /dev/log needs root'}`);

(canBind ? describe : describe.skip)('syslog', () => {
  const host = new Host('xss-syslog-');
  // Without an explicit log file, /dev/log wins (other tests set one and keep theirs).
  const fileLog = host.env.XAPI_SPDK_LOG_FILE!;
  delete host.env.XAPI_SPDK_LOG_FILE;
  const capture = path.join(host.dir, 'syslog.txt');
  let receiver: ChildProcess;

  beforeAll(async () => {
    // A datagram receiver standing in for rsyslog on /dev/log.
    receiver = spawn('python3', [
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind('/dev/log'); print('ready',flush=True)
f=open(sys.argv[1],'ab',buffering=0)
while True: f.write(s.recv(65536)+b'\\n')`,
      capture,
    ]);
    await new Promise((resolve) => receiver.stdout!.once('data', resolve));
  });
  afterAll(() => {
    receiver.kill();
    fs.rmSync('/dev/log', { force: true });
    host.cleanup();
  });

  test('messages reach /dev/log with facility local2 and the SMAPIv3 prefix, not the log file', async () => {
    const { sr } = srCreate(host, { path: host.srsDir });
    host.fail('volume', 'Volume.stat', { dbg: 't', sr, key: 'missing' });
    await new Promise((r) => setTimeout(r, 200));
    const text = fs.readFileSync(capture, 'utf8');
    // <150> = local2 (18) * 8 + info (6); <147> = local2 + err (3).
    expect(text).toMatch(/<150>.*SMAPIv3: \[\d+\] - INFO - SR\.create: called with/);
    expect(text).toMatch(/<147>.*SMAPIv3: \[\d+\] - ERROR - Volume\.stat: failed: SR_BACKEND_FAILURE \["Volume_does_not_exist","missing"\]/);
    expect(fs.existsSync(fileLog)).toBe(false);
    expect(host.call('volume', 'SR.stat', { dbg: 't', sr }, T.srStat)).toBeDefined();
  });
});
