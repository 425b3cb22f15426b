// problem+json (RFC 9457) responses of the usage API, with zod issues mapped to `errors: [{ field, message }]`.
import type { Response } from 'express';
import type { ZodError } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  const body: Record<string, unknown> = {
    type: `https://tollgate.dev/problems/${problem.title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
  };
  if (problem.errors) body.errors = problem.errors;
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(body));
}

export function fieldErrors(error: ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((i) => {
    const at = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ field: at ? `${at}.${k}` : k, message: 'is not a known parameter' }));
    }
    const field = prefix && at ? `${prefix}.${at}` : prefix || at || 'body';
    return [{ field, message: i.message }];
  });
}

export function invalid(errors: FieldError[]): HttpProblem {
  return new HttpProblem(
    400,
    'Invalid request',
    errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  );
}

export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const unauthorized = (detail: string) => new HttpProblem(401, 'Unauthorized', detail);
