// node-redis in its default configuration (RESP3) runs the commands an app
// sends and prints one JSON line per step. clients_test.go runs it
// against redis-server and against ringcache and compares the lines.
// Usage: node node-redis.mjs host:port key-prefix
import { createClient } from 'redis';
import { run, finish } from './steps.mjs';

const [, , addr, prefix] = process.argv;
const client = createClient({ url: `redis://${addr}`, name: 'compat-node-redis' });
client.on('error', (e) => { console.error(`client error: ${e.message}`); process.exit(2); });
await client.connect();
const k = (s) => prefix + s;
// unprefixed turns keys listed by SCAN or KEYS into their names after the
// prefix, sorted and deduplicated, so that every target prints the same.
const unprefixed = (keys) => [...new Set(keys.map((s) => s.slice(prefix.length)))].sort();

await run('ping', () => client.ping());
await run('echo', () => client.echo('hi'));
await run('set', () => client.set(k('a'), 'one'));
await run('get', () => client.get(k('a')));
await run('get missing', () => client.get(k('missing')));
await run('set NX on existing', () => client.set(k('a'), 'x', { condition: 'NX' }));
await run('set GET', () => client.set(k('a'), 'two', { GET: true }));
await run('set EX', () => client.set(k('ex'), 'v', { expiration: { type: 'EX', value: 100 } }));
await run('ttl', () => client.ttl(k('ex')));
await run('setEx', () => client.setEx(k('ex2'), 50, 'v'));
await run('persist', () => client.persist(k('ex2')));
await run('ttl after persist', () => client.ttl(k('ex2')));
await run('mSet', () => client.mSet([[k('m1'), '1'], [k('m2'), '2']]));
await run('mGet', () => client.mGet([k('m1'), k('nope'), k('m2')]));
await run('incr', () => client.incr(k('n')));
await run('incrBy', () => client.incrBy(k('n'), 41));
await run('decr', () => client.decr(k('n')));
await run('incr not a number', () => client.incr(k('a')));
await run('append', () => client.append(k('s'), 'ab'));
await run('strLen', () => client.strLen(k('s')));
await run('exists', () => client.exists([k('a'), k('nope'), k('s')]));
await run('expire', () => client.expire(k('s'), 100));
await run('expire GT', () => client.expire(k('s'), 50, 'GT'));
await run('getDel', () => client.getDel(k('s')));
await run('getEx', () => client.getEx(k('a'), { type: 'EX', value: 30 }));
await run('del', () => client.del([k('a'), k('m1'), k('nope')]));
await run('unlink', () => client.unlink(k('m2')));
await run('configGet', () => client.configGet('appendonly'));
await run('clientGetName', () => client.clientGetName());
await run('hello', async () => { const h = await client.hello(); return { server: h.server, proto: h.proto, mode: h.mode, role: h.role }; });
await run('info has redis_version', async () => (await client.info('server')).includes('redis_version:'));
await run('unknown command', () => client.sendCommand(['NOSUCHCOMMAND', 'x']));

// Transactions (multi().exec()) and scripts (EVAL, SCRIPT LOAD, EVALSHA),
// with keys of one hash tag.
await run('multi', () => client.multi().set(k('{tx}a'), '1').incr(k('{tx}a')).get(k('{tx}a')).exec());
await run('script load and evalSha', async () => {
  const sha = await client.scriptLoad("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  return [sha, await client.evalSha(sha, { keys: [k('{tx}a')], arguments: ['5'] })];
});
await run('eval', () => client.eval("return {#KEYS, ARGV[1], redis.call('GET', KEYS[1])}", { keys: [k('{tx}a')], arguments: ['x'] }));
await run('del tx', () => client.del([k('{tx}a')]));
await run('wrong arity', () => client.sendCommand(['GET']));

// A second client on database 6 (node-redis's database option), SCAN
// through scanIterator, KEYS and FLUSHDB of that database only.
const db6 = createClient({ url: `redis://${addr}`, database: 6 });
db6.on('error', (e) => { console.error(`client error: ${e.message}`); process.exit(2); });
await db6.connect();
await run('db 0 key', () => client.set(k('d0'), 'zero'));
await run('db 6 flushDb', () => db6.flushDb());
await run('db 6 set', () => db6.set(k('d'), 'six'));
await run('db 6 get', () => db6.get(k('d')));
await run('db 0 get of the db 6 key', () => client.get(k('d')));
await run('db 6 mSet', () => db6.mSet([[k('s1'), 'a'], [k('s2'), 'b'], [k('t1'), 'c']]));
await run('db 6 dbSize', () => db6.dbSize());
await run('db 6 scanIterator', async () => {
  const keys = [];
  for await (const ks of db6.scanIterator({ MATCH: k('s*'), COUNT: 2 })) keys.push(...(Array.isArray(ks) ? ks : [ks]));
  return unprefixed(keys);
});
await run('db 6 keys', async () => unprefixed(await db6.keys(k('*'))));
await run('db 6 flushDb again', () => db6.flushDb());
await run('db 6 dbSize after flushDb', () => db6.dbSize());
await run('db 0 key after the db 6 flushDb', () => client.getDel(k('d0')));
await db6.quit();
await client.quit();
finish();
