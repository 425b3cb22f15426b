// Redis Cluster hash slots (CRC16/XMODEM, as Redis computes them) and one hash tag per slot.

const SLOTS = 16384;

let crcTable: Uint16Array | null = null;

function table(): Uint16Array {
  if (crcTable) return crcTable;
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  crcTable = t;
  return t;
}

/** The cluster slot of a hash tag's content (the text between the braces). */
export function slotOfTag(hashTag: string): number {
  const t = table();
  const bytes = Buffer.from(hashTag, 'utf8');
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ t[((crc >> 8) ^ byte) & 0xff]!;
  return crc % SLOTS;
}

/** The cluster slot of a full key, following Redis' rule for `{hash tags}`. */
export function slotOfKey(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return slotOfTag(key.slice(open + 1, close));
  }
  return slotOfTag(key);
}

let slotTags: string[] | null = null;

/**
 * For every slot, the first base-36 counter ("0", "1", ... "a1") whose CRC16 lands in it. Deterministic,
 * so every process agrees on the per-slot flush-queue key without coordinating.
 */
export function slotTagTable(): readonly string[] {
  if (slotTags) return slotTags;
  const out = new Array<string | undefined>(SLOTS);
  let missing = SLOTS;
  for (let i = 0; missing > 0; i++) {
    const candidate = i.toString(36);
    const slot = slotOfTag(candidate);
    if (out[slot] === undefined) {
      out[slot] = candidate;
      missing -= 1;
    }
  }
  slotTags = out as string[];
  return slotTags;
}

export const SLOT_COUNT = SLOTS;
