// chain(): runs request steps in order like an Express router would, without its route matching.
import type { RequestHandler } from 'express';

/** Runs `steps` in order (next(err) skips to `done(err)`); a step's rejected promise is an error too. */
export function chain(steps: RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null && err !== 'route') return done(err);
      const step = steps[i++];
      if (step === undefined) return done();
      try {
        const r = step(req, res, next) as unknown;
        if (r instanceof Promise) r.catch(next);
      } catch (e) {
        next(e);
      }
    };
    next();
  };
}
