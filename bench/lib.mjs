// Measuring for bench/run.mjs: one command at a time under bash's `time` (wall, user and
// sys CPU of the whole process tree, to the millisecond) and GNU time (the peak RSS of the
// largest process of the tree), pairs interleaved, medians.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join, resolve } from 'node:path'

export const root = resolve(import.meta.dirname, '..')
export const bin = join(root, 'bin/ownops.js')
export const MiB = 2 ** 20
export const GiB = 2 ** 30

const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
let serial = 0

/** An environment without the caller's OWNOPS_* settings (a bench never reads the host's). */
export function cleanEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OWNOPS_') && k !== 'NODE_OPTIONS') env[k] = v
  return { ...env, ...extra }
}

/**
 * Runs argv once: { wallMs, cpuMs, userMs, sysMs, rssMiB, status, stdout, stderr, load }.
 * CPU counts every process of the tree that was waited for (tar, zstd, sh…); not the work a
 * Docker engine does for it (a `docker exec`'d pg_dump runs under the engine, not here).
 */
export function measure(argv, { env = cleanEnv(), cwd = root, scratch, keepStdout = false, ok = [0] } = {}) {
  const rssFile = join(scratch ?? '/tmp', `.bench-rss-${process.pid}-${serial++}`)
  const wrapped = GNU_TIME ? [GNU_TIME, '-q', '-f', '%M', '-o', rssFile, ...argv] : argv
  const script = 'TIMEFORMAT="@@time %3R %3U %3S"; time "$@" 2>&3'
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', script, 'bash', ...wrapped], { env, cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    const out = []
    const err = []
    const timing = []
    let outBytes = 0
    child.stdout.on('data', (c) => {
      outBytes += c.length
      if (keepStdout || outBytes < 1 << 20) out.push(c)
    })
    child.stdio[3].on('data', (c) => err.push(c))
    child.stderr.on('data', (c) => timing.push(c))
    const load = loadavg()[0]
    child.on('error', reject)
    child.on('close', (status) => {
      const times = /@@time ([\d.]+) ([\d.]+) ([\d.]+)/.exec(Buffer.concat(timing).toString())
      const stdout = Buffer.concat(out).toString()
      const stderr = Buffer.concat(err).toString()
      let rssMiB
      try {
        rssMiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) / 1024
        rmSync(rssFile, { force: true })
      } catch {
        rssMiB = undefined
      }
      if (!ok.includes(status) || times === null) {
        reject(new Error(`${argv.join(' ')} exited ${status}:\n${stderr.slice(-3000)}${stdout.slice(-1000)}`))
        return
      }
      const [wall, user, sys] = times.slice(1).map((s) => Number(s) * 1000)
      resolvePromise({
        wallMs: wall,
        userMs: user,
        sysMs: sys,
        cpuMs: user + sys,
        rssMiB,
        status,
        stdout,
        stderr,
        load: (load + loadavg()[0]) / 2,
      })
    })
  })
}

export function median(xs) {
  const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * `runs` pairs, the order alternating (ownops first, then the baseline first…), so a load
 * change on the machine hits both sides alike. Each side: { prepare?(), run() → measurement,
 * after?() }; prepare and after are not timed.
 */
export async function pairs(runs, ownops, baseline, { warmup = 1, progress } = {}) {
  const sides = { ownops: [], baseline: [] }
  const once = async (side, spec, keep) => {
    if (spec.prepare) await spec.prepare()
    const m = await spec.run()
    if (spec.after) await spec.after(m)
    if (keep) sides[side].push(m)
  }
  for (let i = 0; i < warmup; i++) {
    await once('baseline', baseline, false)
    await once('ownops', ownops, false)
  }
  for (let i = 0; i < runs; i++) {
    const order =
      i % 2 === 0
        ? [
            ['ownops', ownops],
            ['baseline', baseline],
          ]
        : [
            ['baseline', baseline],
            ['ownops', ownops],
          ]
    for (const [side, spec] of order) await once(side, spec, true)
    progress?.(i + 1, runs)
  }
  const summary = (list) => ({
    wallMs: median(list.map((m) => m.wallMs)),
    cpuMs: median(list.map((m) => m.cpuMs)),
    rssMiB: Math.max(0, ...list.map((m) => m.rssMiB ?? 0)) || undefined,
    load: median(list.map((m) => m.load)),
    runs: list.length,
    last: list.at(-1),
  })
  return {
    ownops: summary(sides.ownops),
    baseline: summary(sides.baseline),
    load: median([...sides.ownops, ...sides.baseline].map((m) => m.load)),
  }
}

/** Runs a shell script (setup work, not timed); throws with its output when it fails. */
export function sh(script, { env = cleanEnv(), cwd = root, input } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', ['-c', script], { env, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    if (input !== undefined) child.stdin.end(input)
    const out = []
    const err = []
    child.stdout.on('data', (c) => out.push(c))
    child.stderr.on('data', (c) => err.push(c))
    child.on('error', reject)
    child.on('close', (status) => {
      const stdout = Buffer.concat(out).toString()
      if (status === 0) resolvePromise(stdout)
      else reject(new Error(`${script.slice(0, 200)} exited ${status}: ${Buffer.concat(err).toString().slice(-2000)}`))
    })
  })
}

export const quote = (s) => `'${String(s).replace(/'/g, "'\\''")}'`

/**
 * Mixed data of about `bytes`: 40% random (incompressible), 35% text-like (base64 lines),
 * 15% zeros, 10% in small files (24 KiB, 100 directories). Generated once per size.
 */
export async function mixedData(dir, bytes) {
  if (existsSync(join(dir, '.complete'))) return dir
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const kib = (f) => Math.max(1, Math.round((bytes * f) / 1024))
  const d = quote(dir)
  await sh(`cd ${d} && mkdir -p random text zeros small`)
  for (let i = 0; i < 4; i++) await sh(`head -c ${kib(0.1)}K /dev/urandom > ${d}/random/r${i}.bin`)
  for (let i = 0; i < 4; i++)
    await sh(`head -c ${Math.max(1, Math.round(kib(0.0875) * 0.75))}K /dev/urandom | base64 > ${d}/text/t${i}.log`)
  await sh(`head -c ${kib(0.15)}K /dev/zero > ${d}/zeros/z.img`)
  const perDir = Math.max(1, Math.round((bytes * 0.1 * 0.75) / 100))
  await sh(
    `cd ${d}/small && for n in $(seq 0 99); do mkdir -p "$n"; head -c ${perDir} /dev/urandom | base64 | split -b 24k - "$n/f."; done`,
  )
  writeFileSync(join(dir, '.complete'), '')
  return dir
}

export async function duBytes(dir) {
  return Number((await sh(`du -sb --exclude=.complete ${quote(dir)}`)).split('\t')[0])
}

/** The machine the table was taken on, in one line. */
export function machine(node = process.execPath) {
  const cpu = cpus()
  const model = (cpu[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim()
  const version = node === process.execPath ? process.version : execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  return `${cpu.length} × ${model}, ${(totalmem() / GiB).toFixed(0)} GiB RAM, Linux ${release()}, Node ${version}`
}

export function fmtMs(ms) {
  if (ms === undefined) return '—'
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`
}

export function fmtMiB(mib) {
  return mib === undefined ? '—' : `${Math.round(mib)} MiB`
}

/** A Markdown table, columns padded so it reads as well in a terminal. */
export function markdownTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)))
  const line = (cells) => `| ${cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
