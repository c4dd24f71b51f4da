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
client.disconnect();
finish();
