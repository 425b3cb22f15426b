// Tollgate API keys (SPEC §11): generation, the api_keys table, and the look-ups the gateway and middleware use.
import { createHash, randomBytes } from 'node:crypto';
import type { SqlExecutor } from './sql-client';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** `tg_` and 32 base62 characters: about 190 bits. */
export const API_KEY_PATTERN = /^tg_[0-9A-Za-z]{32}$/;
export const API_KEY_PREFIX_LENGTH = 8;

/**
 * `n` base62 characters from crypto.randomBytes without modulo bias: a byte is used only below 248 (= 4 x 62),
 * so each of the 62 characters is equally likely.
 */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n + 8)) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

/** A new secret (`tg_` + 32 base62). */
export function generateApiKey(): string {
  return `tg_${randomBase62(32)}`;
}

/** What is stored of a secret: hex SHA-256 of the whole key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function isApiKeyShape(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/** Looks like a Tollgate key (so never a JWT), whether or not it is well formed. */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith('tg_');
}

export interface ApiKeyRecord {
  id: string;
  prefix: string;
  name: string;
  tenantId: string | null;
  userId: string | null;
  tier: string | null;
  role: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** Moves on revocation and rotation (caches compare it). */
  changedAt: Date;
}

interface ApiKeyRow {
  id: string;
  prefix: string;
  name: string;
  tenant_id: string | null;
  user_id: string | null;
  tier: string | null;
  role: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  last_used_at: Date | string | null;
  changed_at: Date | string;
}

const COLUMNS =
  'id, prefix, name, tenant_id, user_id, tier, role, created_at, expires_at, revoked_at, last_used_at, changed_at';

const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const dateOrNull = (v: Date | string | null): Date | null => (v === null ? null : date(v));

function fromRow(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id,
    prefix: r.prefix,
    name: r.name,
    tenantId: r.tenant_id,
    userId: r.user_id,
    tier: r.tier,
    role: r.role,
    createdAt: date(r.created_at),
    expiresAt: dateOrNull(r.expires_at),
    revokedAt: dateOrNull(r.revoked_at),
    lastUsedAt: dateOrNull(r.last_used_at),
    changedAt: date(r.changed_at),
  };
}

export interface NewApiKey {
  name: string;
  tenantId: string | null;
  userId: string | null;
  tier: string | null;
  role: string | null;
  expiresAt: Date | null;
}

/** A created key: its record and the secret, which exists nowhere else (return it once, never log it). */
export interface CreatedApiKey {
  record: ApiKeyRecord;
  key: string;
}

export async function createApiKey(
  sql: SqlExecutor,
  k: NewApiKey,
  rotatedFrom: string | null = null,
): Promise<CreatedApiKey> {
  const key = generateApiKey();
  const id = `key_${randomBase62(16)}`;
  const res = await sql.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, prefix, hash, name, tenant_id, user_id, tier, role, expires_at, rotated_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      id,
      key.slice(3, 3 + API_KEY_PREFIX_LENGTH),
      hashApiKey(key),
      k.name,
      k.tenantId,
      k.userId,
      k.tier,
      k.role,
      k.expiresAt?.toISOString() ?? null,
      rotatedFrom,
    ],
  );
  return { record: fromRow(res.rows[0]!), key };
}

/** The key whose secret hashes to `hash`, or null. */
export async function findApiKeyByHash(sql: SqlExecutor, hash: string): Promise<ApiKeyRecord | null> {
  const res = await sql.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE hash = $1`, [hash]);
  return res.rows[0] ? fromRow(res.rows[0]) : null;
}

export async function findApiKey(sql: SqlExecutor, id: string): Promise<ApiKeyRecord | null> {
  const res = await sql.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return res.rows[0] ? fromRow(res.rows[0]) : null;
}

/** Keys of one owner (a filter left undefined matches any), newest first. */
export async function listApiKeys(
  sql: SqlExecutor,
  filter: { tenantId?: string | null; userId?: string | null },
): Promise<ApiKeyRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const [column, value] of [
    ['tenant_id', filter.tenantId],
    ['user_id', filter.userId],
  ] as const) {
    if (value === undefined) continue;
    if (value === null) where.push(`${column} IS NULL`);
    else {
      params.push(value);
      where.push(`${column} = $${params.length}`);
    }
  }
  const res = await sql.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id`,
    params,
  );
  return res.rows.map(fromRow);
}

/** Revokes a key (a second revocation keeps the first time); false when there is no such key. */
export async function revokeApiKey(sql: SqlExecutor, id: string): Promise<boolean> {
  const res = await sql.query(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), changed_at = clock_timestamp() WHERE id = $1`,
    [id],
  );
  return res.rowCount > 0;
}

/**
 * A new key for the same owner, name and tier; the old one stays valid `graceSeconds` more (never longer than it
 * already would). In one transaction by the caller's choice of executor.
 */
export async function rotateApiKey(
  sql: SqlExecutor,
  old: ApiKeyRecord,
  graceSeconds: number,
): Promise<CreatedApiKey> {
  await sql.query(
    `UPDATE api_keys
        SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2::int)),
            changed_at = clock_timestamp()
      WHERE id = $1`,
    [old.id, graceSeconds],
  );
  return createApiKey(
    sql,
    {
      name: old.name,
      tenantId: old.tenantId,
      userId: old.userId,
      tier: old.tier,
      role: old.role,
      expiresAt: old.expiresAt,
    },
    old.id,
  );
}

/**
 * The id of the key `id` was rotated into, or null. Locks the old key's row first, so two rotations of one key
 * inside transactions see each other's successor.
 */
export async function apiKeySuccessor(sql: SqlExecutor, id: string): Promise<string | null> {
  await sql.query(`SELECT id FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
  const res = await sql.query<{ id: string }>(
    `SELECT id FROM api_keys WHERE rotated_from = $1 ORDER BY created_at LIMIT 1`,
    [id],
  );
  return res.rows[0]?.id ?? null;
}

/** Keys changed (revoked, rotated) after `since` minus a margin for transactions that committed late. */
export async function apiKeyChanges(
  sql: SqlExecutor,
  since: Date | null,
): Promise<{ changes: Array<{ id: string; hash: string; changedAt: Date }>; now: Date }> {
  const res = await sql.query<{
    id: string | null;
    hash: string | null;
    changed_at: Date | string | null;
    now: Date | string;
  }>(
    `SELECT k.id, k.hash, k.changed_at, n.now
       FROM (SELECT clock_timestamp() AS now) n
       LEFT JOIN api_keys k ON $1::timestamptz IS NOT NULL AND k.changed_at > $1::timestamptz - interval '5 seconds'`,
    [since?.toISOString() ?? null],
  );
  const changes = res.rows
    .filter((r) => r.id !== null)
    .map((r) => ({ id: r.id!, hash: r.hash!, changedAt: date(r.changed_at!) }));
  return { changes, now: date(res.rows[0]!.now) };
}

/** Writes a batch of last-use times (each only forward). */
export async function touchApiKeys(sql: SqlExecutor, used: ReadonlyMap<string, Date>): Promise<void> {
  if (used.size === 0) return;
  const batch = [...used].map(([id, at]) => ({ id, at: at.toISOString() }));
  await sql.query(
    `UPDATE api_keys k SET last_used_at = v.at
       FROM jsonb_to_recordset($1::jsonb) AS v(id text, at timestamptz)
      WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`,
    [JSON.stringify(batch)],
  );
}

/** Why a key record does not admit a request at `now` (expired, revoked), or null when it does. */
export function apiKeyRefusal(record: ApiKeyRecord, now: number): 'revoked' | 'expired' | null {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt !== null && record.expiresAt.getTime() <= now) return 'expired';
  return null;
}
