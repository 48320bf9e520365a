// A jest reporter that keeps docs/robustness.md current: every hostile-input,
// fault, crash and concurrency case the tests try, with the result of its last
// run, plain and with the ASan+UBSan builds (XENBLKD_SAN=1). A run that covers
// only some files updates only their rows; the fuzz targets' figures come from
// what `make -C native check` and `make -C native fuzz` leave in native/build.
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const DOC = path.join(REPO, 'docs', 'robustness.md');
const STATE = path.join(REPO, 'docs', 'robustness.json');
const BEGIN = '<!-- results: written by spec/harness/robustness-reporter.js -->';
const END = '<!-- end of results -->';

/** Which test files belong to the table, and under which heading; `only` keeps some tests of a file. */
const AREAS = [
  { file: 'spec/sim/hostile.test.ts', area: 'Hostile frontends (blkif requests)' },
  { file: 'spec/sim/malicious.test.ts', area: 'Malicious guests' },
  { dir: 'spec/faults/', area: 'Daemon faults' },
  { file: 'spec/sim/datapath.test.ts', area: 'Guest and disk going away', only: /vanish|removed|killed|reconnect|backpressure/i },
  { file: 'spec/sim/lifecycle.test.ts', area: 'Datapath plugin and daemon killed', only: /kill|reboot|another host/i },
  { file: 'spec/concurrency/crash.test.ts', area: 'Plugin processes killed' },
  { file: 'spec/concurrency/parallel.test.ts', area: 'Parallel plugin calls' },
  { file: 'spec/concurrency/lock-timeout.test.ts', area: 'Parallel plugin calls' },
  { file: 'spec/storage/full.test.ts', area: 'Full filesystem (volume plugin)' },
  { file: 'spec/contract/bad-input.test.ts', area: 'Bad plugin input' },
  { file: 'spec/unit/wire-calls.test.ts', area: 'Plugin wire properties' },
  { file: 'spec/unit/wire.test.ts', area: 'Plugin wire properties', only: /property/ },
];

function areaOf(rel, title) {
  for (const a of AREAS) {
    const hit = a.file ? rel === a.file : rel.startsWith(a.dir);
    if (hit && (!a.only || a.only.test(title))) return a.area;
  }
  return undefined;
}

/** Seeds drawn at random (crash test) must not make a new row each run. */
const stable = (title) => title.replace(/\(seed \d+\)/, '(random seed)');

function loadState() {
  try {
    return JSON.parse(fs.readFileSync(STATE, 'utf8'));
  } catch {
    return { tests: {}, fuzz: {} };
  }
}

/** Figures the native build left: replay of the committed corpora and libFuzzer runs. */
function fuzzFigures(state) {
  for (const dir of ['native/build/fuzz-stats', 'native/build/san/fuzz-stats', 'native/build/libfuzzer/stats']) {
    const full = path.join(REPO, dir);
    if (!fs.existsSync(full)) continue;
    for (const f of fs.readdirSync(full).filter((n) => n.endsWith('.json'))) {
      try {
        const s = JSON.parse(fs.readFileSync(path.join(full, f), 'utf8'));
        const kind = dir.includes('libfuzzer') ? 'libfuzzer' : dir.includes('san') ? 'replay-san' : 'replay';
        state.fuzz[`${s.target}|${kind}`] = { ...s, kind, mtime: fs.statSync(path.join(full, f)).mtime.toISOString().slice(0, 10) };
      } catch {
        // a half-written file: the next run rewrites it
      }
    }
  }
}

function render(state) {
  const rows = Object.values(state.tests).sort((a, b) => a.area.localeCompare(b.area) || a.order - b.order);
  const cell = (r) => (r ? `${r.status === 'passed' ? 'pass' : r.status === 'failed' ? '**FAIL**' : r.status} (${(r.ms / 1000).toFixed(1)} s, ${r.date})` : 'not run');
  const out = [BEGIN, '', '| Area | Case | Plain build | ASan+UBSan build |', '|---|---|---|---|'];
  for (const r of rows) out.push(`| ${r.area} | ${r.title.replace(/\|/g, '\\|')} | ${cell(r.plain)} | ${r.native ? cell(r.san) : 'n/a (no native code)'} |`);
  const fuzz = Object.values(state.fuzz).sort((a, b) => a.target.localeCompare(b.target) || a.kind.localeCompare(b.kind));
  if (fuzz.length) {
    out.push('', '| Fuzz target | Run | Executions | Result | Date |', '|---|---|---|---|---|');
    for (const f of fuzz) {
      const what = f.kind === 'libfuzzer' ? `libFuzzer, ${f.seconds} s, coverage ${f.coverage ?? '?'}` : f.kind === 'replay-san' ? 'corpus + mutations (ASan+UBSan)' : 'corpus + mutations';
      out.push(`| ${f.target} | ${what} | ${f.executions} | ${f.ok ? 'no crash, oracle held' : '**FAILED**'} | ${f.mtime} |`);
    }
  }
  out.push('', END);
  return out.join('\n');
}

class RobustnessReporter {
  onRunComplete(_contexts, results) {
    const state = loadState();
    const san = process.env.XENBLKD_SAN === '1';
    const date = new Date().toISOString().slice(0, 10);
    let touched = false;
    for (const file of results.testResults) {
      const rel = path.relative(REPO, file.testFilePath);
      file.testResults.forEach((t, order) => {
        const title = stable([...t.ancestorTitles, t.title].join(' › '));
        const area = areaOf(rel, title);
        if (!area || t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') return;
        const id = `${rel}|${title}`;
        const row = (state.tests[id] ??= { area, title, file: rel, order, native: rel.startsWith('spec/sim/') || rel.startsWith('spec/faults/') });
        Object.assign(row, { area, order });
        row[san ? 'san' : 'plain'] = { status: t.status, ms: t.duration ?? 0, date };
        touched = true;
      });
    }
    // Rows of tests that no longer exist go: a file that ran and lacks the title.
    const ran = new Set(results.testResults.map((f) => path.relative(REPO, f.testFilePath)));
    const present = new Set(results.testResults.flatMap((f) => f.testResults.map((t) => `${path.relative(REPO, f.testFilePath)}|${stable([...t.ancestorTitles, t.title].join(' › '))}`)));
    for (const id of Object.keys(state.tests)) if (ran.has(state.tests[id].file) && !present.has(id)) delete state.tests[id];
    fuzzFigures(state);
    if (!touched && !Object.keys(state.fuzz).length) return;
    fs.writeFileSync(STATE, `${JSON.stringify(state, null, 1)}\n`);
    let doc = fs.existsSync(DOC) ? fs.readFileSync(DOC, 'utf8') : `# Robustness\n\n${BEGIN}\n${END}\n`;
    const a = doc.indexOf(BEGIN);
    const b = doc.indexOf(END);
    doc = a >= 0 && b > a ? doc.slice(0, a) + render(state) + doc.slice(b + END.length) : `${doc}\n${render(state)}\n`;
    fs.writeFileSync(DOC, doc);
  }
}

module.exports = RobustnessReporter;
