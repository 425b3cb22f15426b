// Regression: the CSV export left formulas a spreadsheet runs: `x;=1+1` went out unquoted (in a locale where `;`
// separates fields, its second cell is `=1+1`), and ` =1+1` (a leading blank) and the fullwidth `＝1+1` got no `'`.
// Numbers (a gauge's -5) must stay numbers.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher, exportCsv } from '../../src';
import { csvField } from '../../src/internal';
import { ownDatabase } from '../support/own-database';

describe('csvField', () => {
  it.each([
    ['x;=1+1', '"x;=1+1"'],
    ['a\tb', '"a\tb"'],
    ['a,b', '"a,b"'],
    ['cr\rhere', '"cr\rhere"'],
    ['say "hi"', '"say ""hi"""'],
    [' ;=1+1', '" ;=1+1"'],
    ['plain', 'plain'],
  ])('quotes %j as %j', (value, out) => {
    expect(csvField(value)).toBe(out);
  });

  it.each([
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    [' =1+1', "' =1+1"],
    ['  \u00a0+1', "'  \u00a0+1"],
    ['\t=1+1', '"\'\t=1+1"'],
    ['\r=1+1', '"\'\r=1+1"'],
    ['\uff1d1+1', "'\uff1d1+1"],
    ['\uff0b1', "'\uff0b1"],
    ['\uff0d1', "'\uff0d1"],
    ['\uff20SUM(A1)', "'\uff20SUM(A1)"],
  ])('prefixes text %j as %j', (value, out) => {
    expect(csvField(value)).toBe(out);
  });

  it.each([
    ['a=1', 'a=1'],
    ['  spaced', '  spaced'],
    ['user-1', 'user-1'],
  ])('leaves text %j that starts with no formula character alone', (value, out) => {
    expect(csvField(value)).toBe(out);
  });

  it('leaves numeric columns as numbers: a negative gauge amount is -5, not a formula', () => {
    expect(csvField('-5', false)).toBe('-5');
    expect(csvField('-0.000001000000', false)).toBe('-0.000001000000');
  });
});

describe('exportCsv on Postgres', () => {
  const database = ownDatabase('csv_formulas', 2);
  const sql = () => database.sql();

  it('quotes and prefixes the text columns of real rows and keeps a gauge -5 a number', async () => {
    const config = parseConfig({
      meters: { storage_bytes: { kind: 'gauge' } },
      plans: { free: { limits: {} } },
    });
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const who = { tenantId: 'x;=1+1', userId: ' =1+1' };
    await engine.record(who, [
      { meter: 'storage_bytes', amount: -5 },
      { meter: 'input_tokens', amount: 7, model: '\uff1d1+1' },
    ]);
    await new Flusher({ store, sql: sql(), intervalMs: 60_000 }).flushOnce();
    await store.close();

    let text = '';
    for await (const chunk of exportCsv(sql(), { filter: { tenantId: 'x;=1+1' } })) text += String(chunk);
    const rows = text.split('\r\n').filter((l) => l !== '');
    expect(rows[0]).toBe(
      'bucket_start,tenant_id,user_id,meter,model,amount,cost_usd,estimated,batch_id,recorded_at',
    );
    // bucket_start, ..., amount, cost, estimated; the batch id and recorded_at vary.
    const lead = (line: string) => line.split(',').slice(1, 8).join(',');
    const byMeter = (meter: string) => rows.slice(1).find((l) => l.includes(`,${meter},`))!;
    expect(lead(byMeter('storage_bytes'))).toBe(`"x;=1+1",' =1+1,storage_bytes,,-5,0.000000,false`);
    expect(lead(byMeter('input_tokens'))).toBe(`"x;=1+1",' =1+1,input_tokens,'\uff1d1+1,7,0.000000,false`);
  });
});
