// Who a call's quotas belong to: the shard tag, the quota owner, the optional user cap, and the plan.
import type { TollgateConfig, LimitTable } from './config';
import { ErrorCode, TollgateError } from './errors';
import type { LimitSpec, ScopeRef } from './store';
import type { Period } from './periods';

export interface Identity {
  tenantId?: string | null;
  userId?: string | null;
  /** Plan (tier) name; unknown or missing plans use `defaultPlan`. */
  plan?: string | null;
  /** The API key the call came with: its own scope, limited by `keyLimits` and its overrides. */
  apiKeyId?: string | null;
}

export interface ResolvedSubject {
  tenantId: string | null;
  userId: string | null;
  plan: string;
  /** True when the identity named a plan the config does not have. */
  unknownPlan: boolean;
  /** Shard tag: every counter of this subject lives under it (one Redis Cluster slot). */
  tag: string;
  owner: ScopeRef;
  /**
   * The user's own scope inside the tenant, whenever a tenant's quota holds a named user: its limits are the plan's
   * `userLimits` (if any) and any override set for that user, so an override is enforced even without them.
   */
  userCap: ScopeRef | null;
  /** The API key's scope (in the same shard, so admission stays one atomic step), when the call names a key. */
  keyCap: ScopeRef | null;
  apiKeyId: string | null;
  scopes: ScopeRef[];
  limits: LimitSpec[];
  /**
   * The counter meters other than `requests` that some plan or cap limit of this subject caps (limit >= 0; the
   * store gates only on a limit > 0, which an override may set): a used-up one refuses its admissions. Gauges do
   * not (a client at its storage limit must still be able to delete).
   */
  gates: string[];
}

// Ids become Redis key parts and ledger values: no control characters.
// eslint-disable-next-line no-control-regex
const ID = /^[^\u0000-\u001f\u007f]{1,256}$/;

function checkId(kind: string, id: string | null | undefined): string | null {
  if (id === undefined || id === null || id === '') return null;
  if (!ID.test(id))
    throw new TollgateError(ErrorCode.InvalidUsage, `${kind} must be 1-256 printable characters`);
  return id;
}

function limitSpecs(scope: ScopeRef, table: LimitTable | undefined): LimitSpec[] {
  const out: LimitSpec[] = [];
  for (const [meter, periods] of Object.entries(table ?? {})) {
    for (const [period, limit] of Object.entries(periods)) {
      out.push({ scope: scope.scope, id: scope.id, meter, period: period as Period, limit: limit as number });
    }
  }
  return out;
}

export function resolveSubject(config: TollgateConfig, identity: Identity): ResolvedSubject {
  const tenantId = checkId('tenantId', identity.tenantId);
  const userId = checkId('userId', identity.userId);
  const apiKeyId = checkId('apiKeyId', identity.apiKeyId);
  const named = identity.plan ?? null;
  const known = named !== null && Object.hasOwn(config.plans, named);
  const plan = known ? named : config.defaultPlan;
  let owner: ScopeRef;
  let userCap: ScopeRef | null = null;
  if (config.subject === 'tenant' && tenantId) {
    owner = { scope: 'tenant', id: tenantId };
    // Always, not only when the plan has userLimits: an admin's override for this user lives in this scope.
    if (userId) userCap = { scope: 'user', id: userId };
  } else if (userId) {
    owner = { scope: 'user', id: userId };
  } else if (tenantId) {
    owner = { scope: 'tenant', id: tenantId };
  } else {
    throw new TollgateError(ErrorCode.NoIdentity, 'a subject needs a tenantId or a userId');
  }
  const tag = owner.scope === 'tenant' ? `t:${owner.id}` : `u:${owner.id}`;
  const keyCap: ScopeRef | null = apiKeyId ? { scope: 'key', id: apiKeyId } : null;
  const scopes = [owner, ...(userCap ? [userCap] : []), ...(keyCap ? [keyCap] : [])];
  const userTable = Object.hasOwn(config.userLimits, plan) ? config.userLimits[plan] : undefined;
  const keyTable = Object.hasOwn(config.keyLimits, plan) ? config.keyLimits[plan] : undefined;
  const limits = [
    ...limitSpecs(owner, config.plans[plan]?.limits),
    ...(userCap ? limitSpecs(userCap, userTable) : []),
    ...(keyCap ? limitSpecs(keyCap, keyTable) : []),
  ];
  return {
    tenantId,
    userId,
    plan,
    unknownPlan: named !== null && !known,
    tag,
    owner,
    userCap,
    keyCap,
    apiKeyId,
    scopes,
    limits,
    gates: admissionGates(config, limits),
  };
}

function admissionGates(config: TollgateConfig, limits: readonly LimitSpec[]): string[] {
  const gates = new Set<string>();
  for (const l of limits) {
    const kind = Object.hasOwn(config.meters, l.meter) ? config.meters[l.meter]?.kind : undefined;
    if (l.limit >= 0 && l.meter !== 'requests' && kind !== 'gauge') gates.add(l.meter);
  }
  return [...gates];
}

/**
 * Who an override is for: a tenant, a user (inside `tenantId`, or without one), or an API key (owned by `tenantId`
 * and `userId`, the key's own: its counters live in its owner's shard).
 */
export interface OverrideTargetInput {
  scope: 'tenant' | 'user' | 'key';
  id: string;
  tenantId?: string | null;
  /** For a key: the user it belongs to. */
  userId?: string | null;
}

/** The shard tag and scope an override target lives under (the shard `resolveSubject` gives its requests). */
export function overrideTarget(
  target: OverrideTargetInput,
  subjectMode: TollgateConfig['subject'] = 'tenant',
): {
  tag: string;
  ref: ScopeRef;
} {
  if (target.scope === 'tenant') return { tag: `t:${target.id}`, ref: { scope: 'tenant', id: target.id } };
  if (target.scope === 'key') {
    // The shard of the key's requests: its tenant's (subject: tenant), else its user's.
    const tag =
      target.tenantId && (subjectMode === 'tenant' || !target.userId)
        ? `t:${target.tenantId}`
        : `u:${target.userId}`;
    if (!target.tenantId && !target.userId)
      throw new TollgateError(
        ErrorCode.InvalidUsage,
        'a key override needs the key owner (tenantId or userId)',
      );
    return { tag, ref: { scope: 'key', id: target.id } };
  }
  // A user's cap lives in its tenant's shard; a user with no tenant, or any user under `subject: user`, owns its own.
  const tag = target.tenantId && subjectMode === 'tenant' ? `t:${target.tenantId}` : `u:${target.id}`;
  return { tag, ref: { scope: 'user', id: target.id } };
}
