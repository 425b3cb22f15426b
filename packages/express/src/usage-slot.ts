// Where `req.usage` is kept: in `res.locals`, read through an accessor on Express's request prototype.
//
// Why not an own property: Express swaps each request's prototype for its app's (`Object.setPrototypeOf`), and
// after that V8 builds a new hidden class for every property added to the request, copying all of its
// descriptors. One `req.usage` per request cost about 1.2 KB of garbage and a few per cent of the server's CPU
// (BENCHMARKS.md). `res.locals` is the null-prototype object Express makes for every response, which V8 keeps as
// a dictionary: one more key there is a hash insert. It lives as long as the response, so a handler that
// records after the response has closed still finds its request's usage.
import { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { meteredUsageOf, type RequestUsage } from '@tollgate/core';

// Registered: every copy of this package (and every jest module registry) reads and writes the same slot.
const kUsage = Symbol.for('tollgate.usage');

type Slots = Record<symbol, RequestUsage | undefined>;

function usageGetter(this: Request): RequestUsage | undefined {
  const res = this.res as Response | undefined;
  if (res === undefined) return undefined;
  // An application that replaced `res.locals` after trackUsage still finds a metered request's usage until
  // the response closes.
  return (res.locals as Slots | undefined)?.[kUsage] ?? meteredUsageOf(res);
}

// `req.usage = x` (an application's own, or a test's) becomes an own property of that request, as before.
function usageSetter(this: Request, value: RequestUsage): void {
  Object.defineProperty(this, 'usage', { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The object to define the accessor on: the last prototype above Node's `IncomingMessage.prototype`, which is
 * express's own `request` (shared by all its apps and sub-apps, so the accessor is seen on either side of a
 * mounted app). Null for a request that did not come through Express.
 */
function expressRequestRoot(req: Request): object | null {
  let proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || proto === IncomingMessage.prototype) return null;
  for (;;) {
    const up = Object.getPrototypeOf(proto) as object | null;
    if (up === null) return null;
    if (up === IncomingMessage.prototype) return proto;
    proto = up;
  }
}

function install(root: object): boolean {
  const existing = Object.getOwnPropertyDescriptor(root, 'usage');
  if (existing !== undefined) return existing.get === usageGetter || isOurs(existing.get);
  Object.defineProperty(root, 'usage', {
    get: usageGetter,
    set: usageSetter,
    enumerable: false,
    configurable: true,
  });
  return true;
}

// Another copy of this package may have installed its own accessor first: it reads the same registered slot.
function isOurs(get: unknown): boolean {
  return typeof get === 'function' && get.name === 'usageGetter';
}

/** Sets `req.usage` (in `res.locals` when the accessor is in place), remembering per request prototype whether it is. */
export class UsageSlot {
  private proto: object | null = null;
  private viaLocals = false;

  set(req: Request, res: Response, usage: RequestUsage): void {
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== this.proto) {
      this.proto = proto;
      const root = expressRequestRoot(req);
      this.viaLocals = root !== null && install(root);
    }
    const locals = res.locals as Slots | undefined;
    if (this.viaLocals && typeof locals === 'object' && locals !== null && Object.isExtensible(locals)) {
      locals[kUsage] = usage;
      // An own `usage` (set by the application before us) would hide the slot.
      if (Object.prototype.hasOwnProperty.call(req, 'usage')) req.usage = usage;
      return;
    }
    req.usage = usage;
  }
}
