"""redis-py in its default configuration runs the commands an app sends,
pipelines included, and prints one JSON line per step. clients_test.go
runs it against redis-server and against ringcache and compares the lines.
Usage: python3 redis_py.py host:port key-prefix"""
import json
import sys

import redis

addr, prefix = sys.argv[1], sys.argv[2]
host, port = addr.rsplit(":", 1)
r = redis.Redis(host=host, port=int(port), client_name="compat-redis-py")


def k(s):
    return prefix + s


def unprefixed(keys):
    """Keys listed by SCAN or KEYS as their names after the prefix, sorted
    and deduplicated, so that every target prints the same."""
    return sorted({norm(x)[len(prefix):] for x in keys})


def norm(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {norm(a): norm(b) for a, b in sorted(v.items())}
    if isinstance(v, Exception):
        return {"error": str(v)}
    return v


def run(name, f):
    try:
        out = norm(f())
    except redis.RedisError as e:
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps([name, out]), flush=True)


run("ping", lambda: r.ping())
run("set", lambda: r.set(k("a"), "one"))
run("get", lambda: r.get(k("a")))
run("get missing", lambda: r.get(k("missing")))
run("set nx", lambda: r.set(k("a"), "x", nx=True))
run("set get", lambda: r.set(k("a"), "two", get=True))
run("set ex", lambda: r.set(k("e"), "v", ex=100))
run("ttl", lambda: r.ttl(k("e")))
run("setex", lambda: r.setex(k("e2"), 50, "v"))
run("mset", lambda: r.mset({k("m1"): "1", k("m2"): "2"}))
run("mget", lambda: r.mget([k("m1"), k("nope"), k("m2")]))
run("incr", lambda: r.incr(k("n")))
run("incrby", lambda: r.incrby(k("n"), 10))
run("decr", lambda: r.decr(k("n")))
run("incr not a number", lambda: r.incr(k("a")))
run("append", lambda: r.append(k("s"), "xy"))
run("strlen", lambda: r.strlen(k("s")))
run("exists", lambda: r.exists(k("a"), k("nope"), k("s")))
run("expire", lambda: r.expire(k("s"), 100))
run("persist", lambda: r.persist(k("s")))
run("getdel", lambda: r.getdel(k("s")))
run("getex", lambda: r.getex(k("a"), ex=30))
run("pipeline (no transaction)", lambda: r.pipeline(transaction=False).set(k("p"), 1).incr(k("p")).get(k("p")).get(k("nope")).execute())
run("pipeline with an error", lambda: r.pipeline(transaction=False).incr(k("a")).get(k("p")).execute(raise_on_error=False))
run("delete", lambda: r.delete(k("a"), k("e"), k("e2"), k("m1"), k("m2"), k("n"), k("p"), k("nope")))
run("config get", lambda: r.config_get("appendonly"))
run("client getname", lambda: r.client_getname())
run("unknown command", lambda: r.execute_command("NOSUCHCOMMAND", "x"))
run("wrong arity", lambda: r.execute_command("GET"))

# A second client on database 7 (redis-py's db), SCAN through scan_iter,
# KEYS and FLUSHDB of that database only.
db7 = redis.Redis(host=host, port=int(port), db=7)
run("db 0 key", lambda: r.set(k("d0"), "zero"))
run("db 7 flushdb", lambda: db7.flushdb())
run("db 7 set", lambda: db7.set(k("d"), "seven"))
run("db 7 get", lambda: db7.get(k("d")))
run("db 0 get of the db 7 key", lambda: r.get(k("d")))
run("db 7 mset", lambda: db7.mset({k("s1"): "a", k("s2"): "b", k("t1"): "c"}))
run("db 7 dbsize", lambda: db7.dbsize())
run("db 7 scan_iter", lambda: unprefixed(db7.scan_iter(match=k("s*"), count=2)))
run("db 7 keys", lambda: unprefixed(db7.keys(k("*"))))
run("db 7 flushdb again", lambda: db7.flushdb())
run("db 7 dbsize after flushdb", lambda: db7.dbsize())
run("db 0 key after the db 7 flushdb", lambda: r.getdel(k("d0")))

# Transactions: pipeline() is transactional by default; WATCH through
# transaction(); keys of one hash tag so that a cluster runs each
# transaction at one primary.
run("multi pipeline", lambda: r.pipeline().set(k("{tx}a"), 1).incr(k("{tx}a")).get(k("{tx}a")).execute())
run("multi pipeline with an error", lambda: r.pipeline().set(k("{tx}s"), "x").incr(k("{tx}s")).get(k("{tx}s")).execute(raise_on_error=False))


def watched_incr(pipe):
    n = int(pipe.get(k("{tx}a")) or 0)
    pipe.multi()
    pipe.set(k("{tx}a"), n + 1)


run("transaction with watch", lambda: r.transaction(watched_incr, k("{tx}a")))
run("get after transaction", lambda: r.get(k("{tx}a")))


def set_many():
    # Django's cache set_many: a MULTI of SETs.
    p = r.pipeline()
    for i in range(3):
        p.set(k("{tx}m%d" % i), i)
    return p.execute()


run("set_many", set_many)

# Scripts: redis-py's Lock (its acquire, extend and release are scripts
# and SET NX PX), a script object (EVALSHA, SCRIPT LOAD on NOSCRIPT), a
# token bucket rate limiter.
lock = r.lock(k("lock"), timeout=10)
run("lock acquire", lambda: lock.acquire(blocking=False))
run("lock acquire again", lambda: r.lock(k("lock"), timeout=10).acquire(blocking=False))
run("lock extend", lambda: lock.extend(5))
run("lock owned", lambda: lock.owned())
run("lock release", lambda: lock.release())
run("lock released", lambda: r.get(k("lock")))


def with_lock():
    with r.lock(k("lock2"), timeout=10):
        held = r.exists(k("lock2"))
    return [held, r.exists(k("lock2"))]


run("with lock", with_lock)
bucket = r.register_script("""
local tokens = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tokens > 0 then
  redis.call('SET', KEYS[1], tokens - 1, 'PX', ARGV[2])
  return 1
end
return 0
""")
run("token bucket", lambda: [bucket(keys=[k("bucket")], args=[3, 10000]) for _ in range(5)])
run("script flush", lambda: r.script_flush())
run("token bucket after flush", lambda: bucket(keys=[k("bucket")], args=[3, 10000]))
run("delete tx", lambda: r.delete(k("{tx}a"), k("{tx}s"), k("{tx}m0"), k("{tx}m1"), k("{tx}m2"), k("bucket")))


def over_maxmemory():
    """A write past maxmemory under noeviction is refused with Redis's OOM
    error; the budget is then lifted again. A key is stored first: the
    budget is checked before a write, and a ringcache node whose dataset
    is empty is within a budget of one byte (a redis-server never is)."""
    r.set(k("oom:held"), "x")
    r.config_set("maxmemory", 1)
    try:
        return r.set(k("oom"), "x")
    finally:
        r.config_set("maxmemory", 0)
        r.delete(k("oom:held"))


run("set over maxmemory", over_maxmemory)
run("get after oom", lambda: r.get(k("oom")))
print(json.dumps(["done", True]))
