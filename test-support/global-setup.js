// Runs once before the test suite: fail loudly (never skip) when Redis or Postgres is unreachable.
const net = require('node:net');
const { Client } = require('pg');

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function pingRedis(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timed out after 3 s'));
    }, 3000);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      if (data.toString().startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected reply ${JSON.stringify(data.toString().trim())}`));
    });
  });
}

module.exports = async function globalSetup() {
  try {
    await pingRedis(REDIS_URL);
  } catch (err) {
    throw new Error(
      `Redis is unreachable at ${REDIS_URL} (${err.message}). Start it, or set REDIS_URL. Tests never skip.`,
    );
  }
  const client = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `Postgres is unreachable at ${DATABASE_URL} (${err.message}). Start it, or set DATABASE_URL. Tests never skip.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
};
