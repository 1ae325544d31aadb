/**
 * The upstream for bench/gateway.bench.ts, in its own process: the OpenAI test server with a scripted backend.
 * Prints its URL on the first stdout line and runs until killed. (Not a *.bench.ts: bench/run.ts skips it.)
 */
import { scriptedBackend, startOpenAIServer } from '../test/fixtures';

const tokens = Array.from({ length: Number(process.env.BENCH_TOKENS ?? 32) }, (_, i) => ` t${i}`);
void startOpenAIServer({ backend: scriptedBackend({ tokens }) }).then((s) => process.stdout.write(`${s.url}\n`));
