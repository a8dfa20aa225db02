/** Live metering keeps a stream's memory constant in its length: no list of gaps grows with the output. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { StreamMeter } from '../../src/meter/stream-meter.js';
import { chunk } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => (gc(), gc(), process.memoryUsage().heapUsed);

describe('StreamMeter memory', () => {
  it('a 200,000-token stream: every gap observed as it passes, the heap the meter keeps does not grow', () => {
    let gaps = 0;
    let gapSum = 0;
    const meter = new StreamMeter({
      stripUsageChunk: true,
      observer: {
        tokenEvent: (_now, gap) => {
          if (gap !== null) {
            gaps++;
            gapSum += gap;
          }
        },
        firstContent: () => {},
      },
    });
    // 1,000 events per push (one upstream read), 200 reads: 200,000 token events, 1 ms apart
    const read = Buffer.from(Array.from({ length: 1000 }, () => chunk({ content: 'x' })).join(''));
    let now = 0;
    meter.push(read, now); // warm-up: lazily created state is not growth
    const before = heapAfterGc();
    for (let i = 1; i < 200; i++) meter.push(read, (now += 1000));
    const grown = heapAfterGc() - before;
    expect(meter.facts.tokenEvents).toBe(200_000);
    expect(gaps).toBe(199_999);
    expect(gapSum).toBe(199_000); // 199 reads 1 s apart; events in one read share its time (gaps of 0)
    console.log(`heap kept by the meter after a 200,000-token stream: ${(grown / 1024).toFixed(1)} KiB`);
    expect(grown).toBeLessThan(256 * 1024); // an array of 200,000 gaps alone is 1.6 MB
  });
});
