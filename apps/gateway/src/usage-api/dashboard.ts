// The dashboard's page and assets, with the headers that keep them from being framed, sniffed or injected into.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import path from 'node:path';

/**
 * The page loads only its own script, stylesheet and API (no inline script or style: dashboard.html has none, and
 * the script sets styles through the CSSOM, which `style-src 'self'` allows). Charts are inline SVG; `data:` images
 * are allowed for the browser's own icons.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The token travels in the fragment, never in a Referer; nor does the page's address.
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}

/** `GET /dashboard` and `/dashboard/assets/*` from `publicDir`. */
export function dashboardRoutes(publicDir: string): Router {
  const router = express.Router();
  router.get('/dashboard', securityHeaders, (_req, res) => {
    res.sendFile(path.join(publicDir, 'dashboard.html'));
  });
  router.use('/dashboard/assets', securityHeaders, express.static(publicDir, { index: false, maxAge: '1h' }));
  return router;
}
