import type { KillRecord, KillTarget, PendingApproval } from '@bounded/core';
import { pendingApprovals, redisApprovals, redisStores, StoreUnavailableError } from '@bounded/redis';
import { CliUsageError, parseCommandArgs } from './args.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import { didYouMean } from './suggest.js';

const REDIS_OPTIONS = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const REDIS_HELP = `  --redis <url>     Redis (default: REDIS_URL), e.g. redis://127.0.0.1:6379
  --prefix <p>      The key prefix the governors use (default bounded:)`;

export const KILL_OPTIONS = {
  ...REDIS_OPTIONS,
  global: { type: 'boolean' },
  agent: { type: 'string' },
  run: { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  list: { type: 'boolean' },
} as const;

export const KILL_HELP = `Throw the kill switch through Redis: every governor sharing the Redis stores stops matching runs
within milliseconds (their tools' abort signals fire) and refuses new ones until revived.

Usage
  bounded kill --global | --agent <name> | --run <id> [--reason <text>] [--by <who>] [options]
  bounded kill --list

Options
  --global          Every run of every agent
  --agent <name>    Every run of this agent (or workflow)
  --run <id>        One run (kept 24 h: runs do not come back)
  --reason <text>   Why (recorded, and the runs' stop detail)
  --by <who>        Who (default: the USER variable)
  --list            The kill switches thrown now
${REDIS_HELP}
  --json            Print one JSON document
  -h, --help        Show this help

Exit codes
  0  thrown (or listed)
  2  usage error
  6  Redis cannot be reached, or refused the command (an ACL, a password)

Example
  bounded kill --agent support-agent --reason "runaway spend" --by oncall`;

export const REVIVE_HELP = `Revive what the kill switch stopped: new runs of the target are allowed again.

Usage
  bounded revive --global | --agent <name> | --run <id> [options]

Options
  --global | --agent <name> | --run <id>   The target, as it was killed
${REDIS_HELP}
  --json            Print one JSON document
  -h, --help        Show this help

Exit codes
  0  revived (or there was nothing to revive: said so)
  2  usage error
  6  Redis cannot be reached, or refused the command (an ACL, a password)`;

export const APPROVALS_OPTIONS = {
  ...REDIS_OPTIONS,
  by: { type: 'string' },
  reason: { type: 'string' },
  'secret-env': { type: 'string' },
} as const;

export const APPROVALS_HELP = `List and decide the writes waiting for approval in the Redis approval queue (@bounded/redis).

Usage
  bounded approvals list [options]
  bounded approvals approve <id> --by <who> [--reason <text>] [options]
  bounded approvals reject <id> --by <who> [--reason <text>] [options]

An id may be shortened to a prefix that names one waiting request. Decisions are signed with the
queue's secret (HMAC), read from an environment variable, never from the command line; listing
needs no secret.

Options
  --by <who>          Who decides (recorded in the audit log and on the tool's span)
  --reason <text>     Why
  --secret-env <VAR>  The variable holding the signing secret (default BOUNDED_APPROVAL_SECRET)
  --redis <url>       Redis (default: REDIS_URL), e.g. redis://127.0.0.1:6379
  --prefix <p>        The key prefix the governors use (default bounded:)
  --json              Print one JSON document
  -h, --help          Show this help

Exit codes
  0  listed, or decided
  1  no waiting request has that id (decided already, timed out, or never made)
  2  usage error (a missing --by, an id that names several requests, no secret to decide with)
  6  Redis cannot be reached, or refused the command (an ACL, a password)`;

function redisUrl(values: Readonly<Record<string, unknown>>, io: CliIo): string {
  const url = typeof values.redis === 'string' ? values.redis : io.env?.REDIS_URL;
  if (!url) throw new CliUsageError('no Redis: pass --redis <url> or set REDIS_URL');
  if (!/^rediss?:\/\//.test(url)) throw new CliUsageError(`--redis needs a redis:// URL, got ${JSON.stringify(url)}`);
  return url;
}

function killTarget(values: Readonly<Record<string, unknown>>): KillTarget {
  const given = [values.global === true, typeof values.agent === 'string', typeof values.run === 'string'].filter(
    Boolean,
  );
  if (given.length !== 1) {
    throw new CliUsageError(
      given.length === 0
        ? 'name the target: --global, --agent <name> or --run <id>'
        : 'name one target: --global, --agent <name> or --run <id>',
    );
  }
  if (values.global === true) return { scope: 'global' };
  if (typeof values.agent === 'string') {
    if (!values.agent) throw new CliUsageError('--agent needs a name');
    return { scope: 'agent', agent: values.agent };
  }
  if (!values.run) throw new CliUsageError('--run needs a run id');
  return { scope: 'run', runId: String(values.run) };
}

function describeTarget(target: KillTarget): string {
  return target.scope === 'global'
    ? 'every run (global)'
    : target.scope === 'agent'
      ? `agent ${target.agent}`
      : `run ${target.runId}`;
}

/** Runs `fn` with the Redis stores, closing them after; Redis being down, or refusing us, is exit 6. */
async function withRedis<T>(
  io: CliIo,
  command: string,
  json: boolean,
  open: () => Promise<T & { close(): Promise<void> }>,
  fn: (handle: T) => Promise<ExitCode>,
): Promise<ExitCode> {
  let handle: (T & { close(): Promise<void> }) | undefined;
  try {
    handle = await open();
    return await fn(handle);
  } catch (error) {
    if (!isUnavailable(error)) throw error;
    const detail = (error as Error).message;
    // Reached, but turned away (an ACL without the command, a wrong password): say that, not "cannot reach".
    const refused = /NOPERM|WRONGPASS|NOAUTH/.test(detail);
    const message = refused
      ? `Redis refused: ${detail.replace(/^Redis unavailable: /, '')}`
      : `cannot reach Redis: ${detail}`;
    const code = refused ? 'redis_refused' : 'redis_unreachable';
    if (json) writeJson(io.stdout, { ok: false, error: { code, message } });
    else writeLines(io.stderr, [`bounded ${command}: ${message}`]);
    return EXIT.unreachable;
  } finally {
    await handle?.close().catch(() => {});
  }
}

function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown })?.code;
  return (
    code === 'STORE_UNAVAILABLE' ||
    code === 'ECONNREFUSED' ||
    /connect|ECONNREFUSED|ETIMEDOUT|Connection is closed/i.test(String((error as Error)?.message))
  );
}

/** `bounded kill`. */
export async function killCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, KILL_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [KILL_HELP]);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new CliUsageError(
      `takes no arguments, got ${JSON.stringify(positionals[0])} (name the target with --global, --agent or --run)`,
    );
  const json = values.json === true;
  const url = redisUrl(values, io);
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined;
  const options = { url, connectTimeoutMs: 3000, ...(prefix ? { prefix } : {}) };
  if (values.list) {
    return withRedis(
      io,
      'kill',
      json,
      () => redisStores(options),
      async stores => {
        const records = await stores.killSwitch.list();
        if (json) writeJson(io.stdout, { ok: true, kills: records });
        else if (records.length === 0) writeLines(io.stdout, ['no kill switch is thrown']);
        else
          writeLines(
            io.stdout,
            columns(records.map(r => [describeTarget(r.target), `by ${r.by}`, new Date(r.at).toISOString(), r.reason])),
          );
        return EXIT.ok;
      },
    );
  }
  const target = killTarget(values);
  const by = typeof values.by === 'string' ? values.by : `${io.env?.USER ?? 'operator'} (bounded kill)`;
  const reason = typeof values.reason === 'string' ? values.reason : 'killed from the command line';
  return withRedis(
    io,
    'kill',
    json,
    () => redisStores(options),
    async stores => {
      const record: KillRecord = await stores.killSwitch.kill(target, { reason, by });
      const style = createStyle(useColor(io.stdout, io.env));
      if (json) writeJson(io.stdout, { ok: true, kill: record });
      else
        writeLines(io.stdout, [
          `${style.red('killed')} ${describeTarget(target)}: ${reason} (by ${by}); bounded revive ${reviveArgs(target)} undoes it`,
        ]);
      return EXIT.ok;
    },
  );
}

function reviveArgs(target: KillTarget): string {
  return target.scope === 'global'
    ? '--global'
    : target.scope === 'agent'
      ? `--agent ${target.agent}`
      : `--run ${target.runId}`;
}

/** `bounded revive`. */
export async function reviveCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, KILL_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [REVIVE_HELP]);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new CliUsageError(`takes no arguments, got ${JSON.stringify(positionals[0])}`);
  for (const option of ['list', 'reason', 'by'] as const) {
    if (values[option] !== undefined) throw new CliUsageError(`--${option} goes with bounded kill`);
  }
  const json = values.json === true;
  const url = redisUrl(values, io);
  const target = killTarget(values);
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined;
  return withRedis(
    io,
    'revive',
    json,
    () => redisStores({ url, connectTimeoutMs: 3000, ...(prefix ? { prefix } : {}) }),
    async stores => {
      const revived = await stores.killSwitch.revive(target);
      if (json) writeJson(io.stdout, { ok: true, revived, target });
      else
        writeLines(io.stdout, [
          revived ? `revived ${describeTarget(target)}` : `${describeTarget(target)} was not killed: nothing to revive`,
        ]);
      return EXIT.ok;
    },
  );
}

/** `bounded approvals list | approve <id> | reject <id>`. */
export async function approvalsCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, APPROVALS_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [APPROVALS_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const [verb, id, ...extra] = positionals;
  const verbs = ['list', 'approve', 'reject'];
  if (verb === undefined || !verbs.includes(verb)) {
    const hint = verb ? didYouMean(verb, verbs) : undefined;
    throw new CliUsageError(
      verb === undefined
        ? 'missing the verb: bounded approvals list | approve <id> | reject <id>'
        : `unknown verb "${verb}"${hint ? `; did you mean "${hint}"?` : ''} (list, approve, reject)`,
    );
  }
  if (extra.length > 0) throw new CliUsageError(`too many arguments: ${extra.map(e => JSON.stringify(e)).join(' ')}`);
  if (verb === 'list' && id !== undefined) throw new CliUsageError('list takes no id');
  if (verb !== 'list') {
    if (!id) throw new CliUsageError(`missing the request id: bounded approvals ${verb} <id> --by <who>`);
    if (typeof values.by !== 'string' || values.by === '')
      throw new CliUsageError(`${verb} needs --by <who>: a decision names who made it`);
  }
  const url = redisUrl(values, io);
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined;
  if (verb === 'list') {
    // Looking needs no secret; only deciding does.
    return withRedis(
      io,
      'approvals',
      json,
      async () => ({ close: async () => {} }),
      async () => {
        const pending = await pendingApprovals({ url, connectTimeoutMs: 3000, ...(prefix ? { prefix } : {}) });
        if (json) writeJson(io.stdout, { ok: true, pending });
        else if (pending.length === 0) writeLines(io.stdout, ['no write is waiting for approval']);
        else writeLines(io.stdout, formatPending(pending));
        return EXIT.ok;
      },
    );
  }
  const secretVar = typeof values['secret-env'] === 'string' ? values['secret-env'] : 'BOUNDED_APPROVAL_SECRET';
  const secret = io.env?.[secretVar];
  if (!secret)
    throw new CliUsageError(
      `no signing secret: set ${secretVar} (the queue's secret, which signs decisions; --secret-env names another variable)`,
    );
  const style = createStyle(useColor(io.stdout, io.env));
  return withRedis(
    io,
    'approvals',
    json,
    async () => {
      try {
        return await redisApprovals({ url, secret, connectTimeoutMs: 3000, ...(prefix ? { prefix } : {}) });
      } catch (error) {
        if ((error as { code?: string }).code === 'REDIS_OPTIONS')
          throw new CliUsageError(`${secretVar}: ${(error as Error).message}`);
        throw error;
      }
    },
    async queue => {
      const pending = await queue.pending();
      const matches = pending.filter(p => p.id === id || p.id.startsWith(id!));
      if (matches.length > 1 && !matches.some(p => p.id === id)) {
        throw new CliUsageError(
          `"${id}" names ${matches.length} waiting requests (${matches.map(p => p.id).join(', ')}); give more of the id`,
        );
      }
      const request = matches.find(p => p.id === id) ?? matches[0];
      const decide = verb === 'approve' ? queue.approve.bind(queue) : queue.reject.bind(queue);
      const options = {
        by: String(values.by),
        ...(typeof values.reason === 'string' ? { reason: values.reason } : {}),
      };
      const result = request
        ? await decide(request.id, options)
        : { ok: false as const, reason: 'not_pending' as const };
      if (!result.ok) {
        const message = `no waiting request ${id}: decided already, timed out, or never made (bounded approvals list shows those waiting)`;
        if (json) writeJson(io.stdout, { ok: false, error: { code: 'not_pending', message } });
        else writeLines(io.stderr, [`bounded approvals: ${message}`]);
        return EXIT.invalid;
      }
      if (json)
        writeJson(io.stdout, {
          ok: true,
          id: request!.id,
          decision: verb === 'approve' ? 'approved' : 'rejected',
          by: options.by,
        });
      else {
        const word = verb === 'approve' ? style.green('approved') : style.red('rejected');
        writeLines(io.stdout, [
          `${word} ${request!.id}: ${request!.tool} for ${request!.agent} (run ${request!.runId}), by ${options.by}`,
        ]);
      }
      return EXIT.ok;
    },
  );
}

function formatPending(pending: readonly PendingApproval[]): string[] {
  const now = Date.now();
  return columns([
    ['id', 'tool', 'agent', 'run', 'waiting', 'expires in', 'args'],
    ...pending.map(p => [
      p.id,
      p.tool,
      p.agent,
      p.runId,
      `${Math.round((now - p.requestedAt) / 1000)}s`,
      `${Math.max(0, Math.round((p.expiresAt - now) / 1000))}s`,
      truncate(JSON.stringify(p.args) ?? '', 60),
    ]),
  ]);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
