// Found by a review helper: an upstream's answer was JSON.parsed for its usage with nothing bounding what it builds.
// 20 MiB of nested brackets (20 KiB gzip-encoded) held the gateway's one thread for 7.9 s and took 1.1 GiB; one
// stream event of 10 MiB of them, 3.3 s (parsed twice: by the SSE filter and by the usage reader). Past
// MAX_ANSWER_CONTAINERS arrays and objects, an answer or an event is no longer parsed: checked here by JSON.parse
// not being called, not by time.
import { MAX_ANSWER_CONTAINERS, exceedsContainers } from '../../src/answer-bounds';
import { rewriteEvent } from '../../src/sse-usage-filter';
import { StreamUsageReader } from '../../src/stream';

const over = `{"usage":null,"x":${'['.repeat(MAX_ANSWER_CONTAINERS)}${']'.repeat(MAX_ANSWER_CONTAINERS)}}`;

describe('answers that would build too many arrays and objects', () => {
  it('counts only brackets outside strings, escapes included', () => {
    expect(exceedsContainers('{"a":[1,{"b":[]}]}', 4)).toBe(false);
    expect(exceedsContainers('{"a":[1,{"b":[]}]}', 3)).toBe(true);
    expect(exceedsContainers('{"a":"[[[[{{{{\\"[[[[","b":"\\\\"}', 1)).toBe(false);
    expect(exceedsContainers(over)).toBe(true);
  });

  it('neither the usage reader nor the SSE filter parses such an event', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const reader = new StreamUsageReader();
      expect(reader.push({ data: over })).toBeNull();
      expect(reader.skipped).toBe(1);
      const event = `data: ${over}\n\n`;
      expect(rewriteEvent(event, '\n\n')).toBe(event);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
