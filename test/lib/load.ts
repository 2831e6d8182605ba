// A bounded loopback load: N keep-alive connections, each sending GET / back to back, every
// request's start time and outcome recorded (so a test can ask about those sent before a signal).
import { Agent, request } from 'node:http';

export interface Outcome {
  /** ms since the load began */
  start: number;
  ok: boolean;
  detail: string;
}

export interface Load {
  outcomes: Outcome[];
  /** ms since the load began */
  now(): number;
  /** Stops sending and resolves once every request has settled. */
  stop(): Promise<void>;
}

export function startLoad(port: number, connections = 50, hardLimitMs = 15_000): Load {
  const began = Date.now();
  const outcomes: Outcome[] = [];
  let running = true;
  const agents: Agent[] = [];
  const limit = setTimeout(() => (running = false), hardLimitMs);
  const one = (agent: Agent) =>
    new Promise<Outcome>((done) => {
      const start = Date.now() - began;
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => done({ start, ok: res.statusCode === 200, detail: `${res.statusCode} ${body.trim()}` }));
        res.on('error', (e) => done({ start, ok: false, detail: (e as NodeJS.ErrnoException).code ?? e.message }));
      });
      req.on('error', (e) => done({ start, ok: false, detail: (e as NodeJS.ErrnoException).code ?? e.message }));
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.end();
    });
  const workers = Array.from({ length: connections }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    while (running) {
      const o = await one(agent);
      outcomes.push(o);
      if (!o.ok) await new Promise((r) => setTimeout(r, 20)); // refused after a stop: do not spin
    }
  });
  return {
    outcomes,
    now: () => Date.now() - began,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      clearTimeout(limit);
      for (const a of agents) a.destroy();
    },
  };
}
