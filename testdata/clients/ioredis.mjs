// ioredis in its default configuration runs the commands an app sends,
// pipelines and a db option included, and prints one JSON line per step.
// Usage: node ioredis.mjs host:port key-prefix
import Redis from 'ioredis';
import { run, finish } from './steps.mjs';

const [, , addr, prefix] = process.argv;
const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
const client = new Redis({ host, port, connectionName: 'compat-ioredis', maxRetriesPerRequest: 1, lazyConnect: true });
client.on('error', (e) => { console.error(`client error: ${e.message}`); });
await client.connect();
const k = (s) => prefix + s;
// unprefixed turns keys listed by SCAN or KEYS into their names after the
// prefix, sorted and deduplicated, so that every target prints the same.
const unprefixed = (keys) => [...new Set(keys.map((s) => s.slice(prefix.length)))].sort();

await run('ping', () => client.ping());
await run('set', () => client.set(k('a'), 'one'));
await run('get', () => client.get(k('a')));
await run('get missing', () => client.get(k('missing')));
await run('set NX', () => client.set(k('a'), 'x', 'NX'));
await run('set PX GET', () => client.set(k('a'), 'two', 'PX', 100000, 'GET'));
await run('pttl positive', async () => (await client.pttl(k('a'))) > 90000);
await run('setnx', () => client.setnx(k('b'), 'v'));
await run('mset', () => client.mset(k('m1'), '1', k('m2'), '2'));
await run('mget', () => client.mget(k('m1'), k('nope'), k('m2')));
await run('incrby', () => client.incrby(k('n'), 5));
await run('decrby', () => client.decrby(k('n'), 2));
await run('incr not a number', () => client.incr(k('a')));
await run('expire', () => client.expire(k('b'), 100));
await run('ttl', () => client.ttl(k('b')));
await run('expire NX', () => client.expire(k('b'), 10, 'NX'));
await run('persist', () => client.persist(k('b')));
await run('exists', () => client.exists(k('a'), k('b'), k('nope')));
await run('pipeline', async () => {
  const res = await client.pipeline().set(k('p'), '1').incr(k('p')).get(k('p')).get(k('nope')).incr(k('a')).exec();
  return res.map(([err, v]) => (err ? { error: err.message } : v));
});
await run('getdel', () => client.getdel(k('p')));
await run('del', () => client.del(k('a'), k('b'), k('m1'), k('m2'), k('n'), k('nope')));
await run('config get', () => client.config('GET', 'appendonly'));
await run('client getname', () => client.client('GETNAME'));
await run('unknown command', () => client.call('NOSUCHCOMMAND', 'x'));

// Transactions (multi().exec()) and scripts (defineCommand: EVALSHA, then
// EVAL on NOSCRIPT), with keys of one hash tag.
await run('multi', async () => {
  const res = await client.multi().set(k('{tx}a'), '1').incr(k('{tx}a')).get(k('{tx}a')).exec();
  return res.map(([err, v]) => (err ? { error: err.message } : v));
});
await run('multi with an error', async () => {
  const res = await client.multi().set(k('{tx}s'), 'x').incr(k('{tx}s')).exec();
  return res.map(([err, v]) => (err ? { error: err.message } : v));
});
await run('multi discarded', async () => {
  try {
    await client.multi().set(k('{tx}d'), '1').call('NOSUCHCOMMAND').exec();
    return 'executed';
  } catch (e) {
    return { error: e.message };
  }
});
client.defineCommand('takeToken', {
  numberOfKeys: 1,
  lua: "local t = tonumber(redis.call('GET', KEYS[1]) or ARGV[1]) if t > 0 then redis.call('SET', KEYS[1], t - 1) return 1 end return 0",
});
await run('defineCommand', async () => [await client.takeToken(k('bucket'), 2), await client.takeToken(k('bucket'), 2), await client.takeToken(k('bucket'), 2)]);
await run('release script', () => client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end", 1, k('{tx}a'), '2'));
await run('del tx', () => client.del(k('{tx}s'), k('{tx}d'), k('bucket')));

// A second client on database 5 (ioredis's db option sends SELECT), SCAN
// through scanStream, KEYS and FLUSHDB of that database only.
const db5 = new Redis({ host, port, db: 5, maxRetriesPerRequest: 1, lazyConnect: true });
db5.on('error', (e) => { console.error(`client error: ${e.message}`); });
await db5.connect();
await run('db 0 key', () => client.set(k('d0'), 'zero'));
await run('db 5 flushdb', () => db5.flushdb());
await run('db 5 set', () => db5.set(k('d'), 'five'));
await run('db 5 get', () => db5.get(k('d')));
await run('db 0 get of the db 5 key', () => client.get(k('d')));
await run('db 5 mset', () => db5.mset(k('s1'), 'a', k('s2'), 'b', k('t1'), 'c'));
await run('db 5 dbsize', () => db5.dbsize());
await run('db 5 scanStream', () => new Promise((resolve, reject) => {
  const keys = [];
  const s = db5.scanStream({ match: k('s*'), count: 2 });
  s.on('data', (ks) => keys.push(...ks));
  s.on('end', () => resolve(unprefixed(keys)));
  s.on('error', reject);
}));
await run('db 5 keys', async () => unprefixed(await db5.keys(k('*'))));
await run('db 5 flushdb again', () => db5.flushdb());
await run('db 5 dbsize after flushdb', () => db5.dbsize());
await run('db 0 key after the db 5 flushdb', () => client.getdel(k('d0')));
db5.disconnect();
client.disconnect();
finish();
