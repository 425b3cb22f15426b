// The JWT_* settings: their environment fields and the verifier settings derived from them (keys, algorithms,
// issuer, audience, claim names), each inconsistency a SettingError naming the variable.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { SettingError } from '@tollgate/settings';
import { booleanSetting, int } from './env-fields';

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export const EC_ALGORITHMS = ['ES256', 'ES384', 'ES512'] as const;
/** Verified only against keys from JWT_JWKS_URL (jsonwebtoken cannot; jose does). */
export const EDDSA_ALGORITHMS = ['EdDSA'] as const;
export type JwtAlgorithm =
  | (typeof HMAC_ALGORITHMS)[number]
  | (typeof RSA_ALGORITHMS)[number]
  | (typeof EC_ALGORITHMS)[number]
  | (typeof EDDSA_ALGORITHMS)[number];
const ALL_ALGORITHMS: readonly string[] = [
  ...HMAC_ALGORITHMS,
  ...RSA_ALGORITHMS,
  ...EC_ALGORITHMS,
  ...EDDSA_ALGORITHMS,
];
const ASYMMETRIC_ALGORITHMS: JwtAlgorithm[] = [...RSA_ALGORITHMS, ...EC_ALGORITHMS, ...EDDSA_ALGORITHMS];
// Node names the curves by their OpenSSL names.
const EC_CURVE_ALG: Record<string, JwtAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/** Claim names read from the token. */
export interface ClaimNames {
  userId: string;
  tenantId: string;
  tier: string;
  email: string;
  role: string;
}

export interface JwtSettings {
  /** HS* secret, when given. */
  secret: string | null;
  /** RS256/PS256/ES256 (and wider) public key, when given. */
  publicKey: KeyObject | null;
  /** JWT_JWKS_URL: the identity providers' key sets; asymmetric tokens are verified against them only. */
  jwksUrls: URL[];
  algorithms: JwtAlgorithm[];
  issuer: string | null;
  audience: string[] | null;
  clockToleranceSec: number;
  maxTokenLength: number;
  /** Refuse tokens without `exp` (JWT_REQUIRE_EXP). */
  requireExp: boolean;
  claims: ClaimNames;
}

/** The key and verification fields (in the order the settings list them). */
export const jwtKeyFields = {
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters (32+ recommended)').optional(),
  JWT_PUBLIC_KEY: z.string().trim().min(1).optional(),
  JWT_JWKS_URL: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one URL')
    .refine(
      (l) => l.every((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol)),
      'must be a comma-separated list of http(s) URLs',
    )
    .optional(),
  JWT_ALGORITHMS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one algorithm')
    .refine((l) => !l.some((a) => a.toLowerCase() === 'none'), '"none" is never allowed')
    .refine(
      (l) => l.every((a) => ALL_ALGORITHMS.includes(a)),
      `must be a comma-separated list of ${ALL_ALGORITHMS.join(', ')}`,
    )
    .optional(),
  JWT_ISSUER: z.string().trim().min(1).optional(),
  JWT_AUDIENCE: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one audience')
    .optional(),
  JWT_CLOCK_TOLERANCE_SECONDS: int(0, 300).default('5'),
  JWT_MAX_LENGTH: int(256, 65536).default('8192'),
  JWT_REQUIRE_EXP: booleanSetting.default('true'),
};

/** The claim names read from a token. */
export const jwtClaimFields = {
  JWT_CLAIM_USER_ID: z.string().trim().min(1).default('sub'),
  JWT_CLAIM_TENANT_ID: z.string().trim().min(1).default('tenant_id'),
  JWT_CLAIM_TIER: z.string().trim().min(1).default('tier'),
  JWT_CLAIM_EMAIL: z.string().trim().min(1).default('email'),
  JWT_CLAIM_ROLE: z.string().trim().min(1).default('role'),
};

export type JwtEnv = z.infer<z.ZodObject<typeof jwtKeyFields & typeof jwtClaimFields>>;

/** A PEM from the variable itself (`\n` escapes allowed) or from the file it names. */
function readPem(value: string): string {
  const text = value.includes('-----BEGIN') ? value : existsSync(value) ? readFileSync(value, 'utf8') : value;
  return text.replace(/\\n/g, '\n');
}

function publicKeyAlgorithms(key: KeyObject): JwtAlgorithm[] {
  if (key.asymmetricKeyType === 'rsa') return ['RS256'];
  if (key.asymmetricKeyType === 'rsa-pss') return ['PS256'];
  if (key.asymmetricKeyType === 'ec') {
    const alg = EC_CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (alg) return [alg];
  }
  throw new SettingError(
    'JWT_PUBLIC_KEY',
    `unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use an RSA or P-256/384/521 EC public key)`,
  );
}

export function jwtSettings(e: JwtEnv, demo: boolean, demoSecret: () => string): JwtSettings {
  let publicKey: KeyObject | null = null;
  if (e.JWT_PUBLIC_KEY) {
    try {
      publicKey = createPublicKey(readPem(e.JWT_PUBLIC_KEY));
    } catch (err) {
      throw new SettingError(
        'JWT_PUBLIC_KEY',
        `is not a PEM public key (or a file holding one): ${(err as Error).message}`,
      );
    }
    if (publicKey.type !== 'public') throw new SettingError('JWT_PUBLIC_KEY', 'must be a public key');
  }
  const jwksUrls = (e.JWT_JWKS_URL ?? []).map((u) => new URL(u));
  if (publicKey && jwksUrls.length > 0) {
    throw new SettingError(
      'JWT_PUBLIC_KEY',
      'set either JWT_PUBLIC_KEY or JWT_JWKS_URL, not both (asymmetric tokens are verified against one of them)',
    );
  }
  let secret = e.JWT_SECRET ?? null;
  if (!secret && !publicKey && jwksUrls.length === 0) {
    if (!demo)
      throw new SettingError(
        'JWT_SECRET',
        'is required (or JWT_PUBLIC_KEY for RS256/ES256, or JWT_JWKS_URL) outside demo mode',
      );
    secret = demoSecret();
  }
  const defaults: JwtAlgorithm[] = [
    ...(secret ? (['HS256'] as JwtAlgorithm[]) : []),
    ...(publicKey ? publicKeyAlgorithms(publicKey) : []),
    // Each JWKS key is further pinned to the one algorithm its set declares for it.
    ...(jwksUrls.length > 0 ? ASYMMETRIC_ALGORITHMS : []),
  ];
  const algorithms = (e.JWT_ALGORITHMS as JwtAlgorithm[] | undefined) ?? defaults;
  for (const alg of algorithms) {
    if (jwksUrls.length > 0 && ASYMMETRIC_ALGORITHMS.includes(alg)) continue;
    if ((EDDSA_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs JWT_JWKS_URL`);
    }
    if ((HMAC_ALGORITHMS as readonly string[]).includes(alg) && !secret) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs JWT_SECRET`);
    }
    if (
      (RSA_ALGORITHMS as readonly string[]).includes(alg) &&
      !(publicKey && publicKey.asymmetricKeyType?.startsWith('rsa'))
    ) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs an RSA JWT_PUBLIC_KEY`);
    }
    if (
      (EC_ALGORITHMS as readonly string[]).includes(alg) &&
      !(publicKey && publicKeyAlgorithms(publicKey).includes(alg))
    ) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs an EC JWT_PUBLIC_KEY on the matching curve`);
    }
  }
  return {
    secret,
    publicKey,
    jwksUrls,
    algorithms,
    issuer: e.JWT_ISSUER ?? null,
    audience: e.JWT_AUDIENCE ?? null,
    clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SECONDS,
    maxTokenLength: e.JWT_MAX_LENGTH,
    requireExp: e.JWT_REQUIRE_EXP,
    claims: {
      userId: e.JWT_CLAIM_USER_ID,
      tenantId: e.JWT_CLAIM_TENANT_ID,
      tier: e.JWT_CLAIM_TIER,
      email: e.JWT_CLAIM_EMAIL,
      role: e.JWT_CLAIM_ROLE,
    },
  };
}
