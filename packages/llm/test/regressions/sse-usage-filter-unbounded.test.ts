// Regression: the usage filter kept an event without a blank line whole and searched it again from its start on
// every chunk (16 MiB cost 14 s of CPU, and any size was buffered); now it holds at most its cap.
import { SseUsageFilter } from '../../src/sse-usage-filter';

const MiB = 1024 * 1024;

it('holds at most its cap of an event without a blank line, passing the rest on as it comes', () => {
  const filter = new SseUsageFilter({ maxEventBytes: MiB });
  let out = 0;
  filter.on('data', (c: Buffer) => (out += c.length));
  const piece = Buffer.alloc(64 * 1024, 'a');
  let written = 0;
  filter.write(Buffer.from('data: '));
  written += 6;
  for (let i = 0; i < 256; i++) {
    filter.write(piece);
    written += piece.length;
    expect(filter.buffered).toBeLessThanOrEqual(MiB);
    expect(written - out).toBeLessThanOrEqual(MiB + piece.length);
  }
});
