/** Reads KEY=value environment files, the format systemd's EnvironmentFile= and docker compose accept. */

export interface EnvFileProblem {
  line: number
  message: string
}

export function parseEnvFile(text: string): { vars: Record<string, string>; problems: EnvFileProblem[] } {
  const vars: Record<string, string> = {}
  const problems: EnvFileProblem[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (match === null) {
      problems.push({ line: index + 1, message: 'expected KEY=value' })
      return
    }
    const key = match[1] as string
    let value = match[2] ?? ''
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1').replace(/\\n/g, '\n')
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1)
    } else {
      value = value.replace(/\s+#.*$/, '')
    }
    vars[key] = value
  })
  return { vars, problems }
}
