// GET /usage/export.csv: a subject's ledger rows as CSV, streamed.
import { exportCsv } from '@tollgate/ledger';
import { usageTarget } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

export const exportCsvRoute: UsageRoute = (router, ctx) => {
  router.get(
    '/usage/export.csv',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const q = parse(ctx.schemas.exportCsv, req.query);
      const { filter } = await usageTarget(ctx.sql, c, q);
      res
        .status(200)
        .type('text/csv; charset=utf-8')
        .setHeader('content-disposition', 'attachment; filename="tollgate-usage.csv"');
      const stream = exportCsv(ctx.sql, { filter, from: q.from, to: q.to });
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        res.on('close', resolve);
        stream.pipe(res);
      }).catch((err: unknown) => {
        // Headers are sent: end the body so the client sees a truncated download, not a hang.
        res.destroy(err as Error);
      });
    }),
  );
};
