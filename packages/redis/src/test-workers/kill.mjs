// One process of the fleet: each round it starts `runs` runs whose tools hang until aborted, and reports how long
// after the kill switch was thrown (the kill record's time) each run came back stopped.
import { createGovernor } from '@bounded/core';
import { redisStores } from '@bounded/redis';
import { fail, params, receive, report } from './protocol.mjs';

try {
  const stores = await redisStores({ url: params.url, prefix: params.prefix });
  const governor = createGovernor({ policy: {}, stores });
  let lastKill;
  stores.killSwitch.subscribe(record => {
    lastKill = record;
  });
  const hang = (_args, ctx) =>
    new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  report({ type: 'ready' });
  for (;;) {
    const command = await receive();
    if (command.type === 'exit') break;
    // The revive of the last round must have arrived before new runs start.
    while (stores.killSwitch.check('fleet', '-')) await new Promise(resolve => setTimeout(resolve, 2));
    let started = 0;
    let allStarted;
    const starting = new Promise(resolve => {
      allStarted = resolve;
    });
    const tool = (args, ctx) => {
      if (++started === params.runs) allStarted();
      return hang(args, ctx);
    };
    const runs = Array.from({ length: params.runs }, (_, i) =>
      governor
        .run({ agent: 'fleet' }, run => run.tool('http.get', { i }, tool))
        .then(result => ({ result, endedAt: Date.now() })),
    );
    await starting;
    report({ type: 'started' });
    const ended = await Promise.all(runs);
    report({
      type: 'round',
      stopReasons: ended.map(e => e.result.stopReason),
      latencies: ended.map(e => e.endedAt - lastKill.at),
    });
  }
  await stores.close();
} catch (error) {
  fail(error);
}
