/** `ownops status`: gather (read-only), assess (pure), render. */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { assessStatus } from './assess.js'
import { gatherStatus } from './gather.js'
import { renderStatus } from './render.js'

export async function runStatus(ctx: Ctx, opts: { root?: string | undefined }): Promise<CommandResult> {
  const facts = await gatherStatus(ctx, opts)
  const report = assessStatus(facts)
  return { exitCode: report.exitCode, report, text: renderStatus(report, { colour: ctx.colour, zone: facts.hostZone }) }
}
