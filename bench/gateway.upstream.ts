/**
 * The upstream for bench/gateway.bench.ts, in its own process: the OpenAI test server with a scripted backend.
 * BENCH_TOKEN_INTERVAL_MS paces the tokens (and the pieces of a tool call's arguments) like a model. Prints its URL on the first stdout line and runs until killed. (Not a *.bench.ts: bench/run.ts skips it.)
 */
import { scriptedBackend, startOpenAIServer } from '../test/fixtures';

const tokens = Array.from({ length: Number(process.env.BENCH_TOKENS ?? 32) }, (_, i) => ` t${i}`);
/** Milliseconds between tokens (0: as fast as the event loop turns). */
const intervalMs = Number(process.env.BENCH_TOKEN_INTERVAL_MS ?? 0);
/**
 * Requests that offer tools get one call to write_file instead of text: its arguments (a path and TOKENS words of
 * content) stream in 7-character pieces, intervalMs apart, as a model writes them.
 */
const content = Array.from({ length: Number(process.env.BENCH_TOKENS ?? 32) }, (_, i) => `w${i}`).join(' ');
const toolCalls = [{ name: 'write_file', arguments: { path: 'src/bench.ts', content } }];
void startOpenAIServer({ backend: scriptedBackend({ tokens, intervalMs, toolCalls }), toolCalls: { fragmentIntervalMs: intervalMs } }).then(
  (s) => process.stdout.write(`${s.url}\n`),
);
