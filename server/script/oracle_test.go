package script

import (
	"bytes"
	"context"
	"strconv"
	"testing"
)

// oracleCase is a script run on redis-server and on the Engine, whose
// replies must be the same bytes.
type oracleCase struct {
	name   string
	script string
	keys   []string
	args   []string
	setup  [][]string // commands run before the script, on both sides
	ro     bool       // EVAL_RO
	proto  int        // 0: run in RESP2 and in RESP3
	// differs, when set, says why the reply differs from Redis's; then
	// only the reply's type (its first byte) must agree.
	differs string
}

var lockRelease = `if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end`

// tokenBucket is a rate limiter of the common shape: tokens refill at a
// rate per second up to a capacity; a request takes some or is refused.
var tokenBucket = `
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local requested = tonumber(ARGV[4])
local state = redis.call('hmget', key, 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  ts = now
end
local delta = math.max(0, now - ts)
tokens = math.min(capacity, tokens + delta * rate)
local allowed = tokens >= requested
if allowed then
  tokens = tokens - requested
end
redis.call('hset', key, 'tokens', tokens, 'ts', now)
redis.call('expire', key, math.ceil(capacity / rate) * 2)
return { allowed and 1 or 0, math.floor(tokens) }
`

var oracleCases = []oracleCase{
	// Lua to RESP.
	{name: "integer", script: "return 1"},
	{name: "float truncated", script: "return 3.99"},
	{name: "negative float truncated", script: "return -3.99"},
	{name: "2^53", script: "return 2^53"},
	{name: "2^63 overflows", script: "return 2^63"},
	{name: "inf", script: "return 1/0"},
	{name: "nan", script: "return 0/0"},
	{name: "string", script: "return 'hello'"},
	{name: "empty string", script: "return ''"},
	{name: "binary string", script: `return '\0\1\255\r\n'`},
	{name: "true", script: "return true"},
	{name: "false", script: "return false"},
	{name: "nil", script: "return nil"},
	{name: "nothing", script: "return"},
	{name: "no return", script: "local x = 1"},
	{name: "empty table", script: "return {}"},
	{name: "array", script: "return {1,'a',{2,{3}},true,false}"},
	{name: "nil hole ends array", script: "return {1,2,nil,4}"},
	{name: "hash part ignored", script: "return {1, 2, x=3}"},
	{name: "float key ignored", script: "local t = {} t[1.5] = 'a' t[1] = 'b' return t"},
	{name: "large array", script: "local t = {} for i = 1, 1000 do t[i] = i * 2 end return t"},
	{name: "status table", script: "return {ok='fine'}"},
	{name: "status with newlines", script: "return {ok='x\\r\\ny'}"},
	{name: "error table", script: "return {err='My Error'}"},
	{name: "error table newlines", script: "return {err='a\\nb'}"},
	{name: "error table empty", script: "return {err=''}"},
	{name: "error table dash", script: "return {err='-ERR x'}"},
	{name: "err not a string", script: "return {err=5}"},
	{name: "ok not a string", script: "return {ok=5}"},
	{name: "nested status and error", script: "return {1,{ok='x'},{err='E y'}}"},
	{name: "status_reply", script: "return redis.status_reply('fine')"},
	{name: "status_reply wrong type", script: "return redis.status_reply(1)"},
	{name: "error_reply with code", script: "return redis.error_reply('MY Error')"},
	{name: "error_reply no space", script: "return redis.error_reply('boom')"},
	{name: "error_reply dash", script: "return redis.error_reply('-boom')"},
	{name: "error_reply none", script: "return redis.error_reply()"},
	{name: "double", script: "return {double=3.5}"},
	{name: "double 0.1", script: "return {double=0.1}"},
	{name: "double big", script: "return {double=1e300}"},
	{name: "double inf", script: "return {double=1/0}"},
	{name: "double -inf", script: "return {double=-1/0}"},
	{name: "double nan", script: "return {double=0/0}"},
	{name: "double not a number", script: "return {double='x'}"},
	{name: "map", script: "return {map={a=1}}"},
	{name: "map numeric key", script: "return {map={[1]='x'}}"},
	{name: "set", script: "return {set={a=true}}"},
	{name: "big_number", script: "return {big_number='123456789012345678901234567890'}"},
	{name: "big_number newlines", script: "return {big_number='1\\r\\n2'}"},
	{name: "verbatim", script: "return {verbatim_string={format='txt', string='hello'}}"},
	{name: "verbatim long format", script: "return {verbatim_string={format='markdown', string='hi'}}"},
	{name: "setresp3 true", script: "redis.setresp(3) return true"},
	{name: "setresp3 false", script: "redis.setresp(3) return false"},
	{name: "setresp3 nil", script: "redis.setresp(3) return nil"},
	{name: "setresp3 booleans in array", script: "redis.setresp(3) return {true, false, nil}"},
	{name: "map and set: map wins", script: "return {set={a=true}, map={b=1}}"},

	// KEYS and ARGV.
	{name: "KEYS", script: "return KEYS", keys: []string{"k1", "k2"}},
	{name: "ARGV", script: "return ARGV", args: []string{"a1", "", "a3"}},
	{name: "counts", script: "return {#KEYS, #ARGV}", keys: []string{"k"}, args: []string{"a", "b"}},
	{name: "KEYS writable", script: "KEYS[1] = 'x' return KEYS", keys: []string{"k1", "k2"}},
	{name: "no keys", script: "return {#KEYS, #ARGV}"},

	// RESP to Lua.
	{name: "call status", script: "return redis.call('set', KEYS[1], 'v')", keys: []string{"k"}},
	{name: "status is a table", script: "local r = redis.call('ping') return {type(r), r.ok}"},
	{name: "call bulk", script: "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{name: "null bulk is false", script: "local v = redis.call('get', 'nosuch') return {type(v), tostring(v)}"},
	{name: "resp3 null is nil", script: "redis.setresp(3) return type(redis.call('get', 'nosuch'))"},
	{name: "integer reply", script: "return redis.call('incr', KEYS[1]) + 0.5", keys: []string{"n"}},
	{name: "array reply", script: "redis.call('rpush', KEYS[1], 'a', 'b', 'c') return redis.call('lrange', KEYS[1], 0, -1)", keys: []string{"l"}},
	{name: "hgetall resp2", script: "redis.call('hset', KEYS[1], 'f', 'v') return redis.call('hgetall', KEYS[1])", keys: []string{"h"}},
	{name: "hgetall resp3 map", script: "redis.setresp(3) redis.call('hset', KEYS[1], 'f', 'v') return redis.call('hgetall', KEYS[1])", keys: []string{"h"}},
	{name: "map field", script: "redis.setresp(3) redis.call('hset', KEYS[1], 'f', 'v') return redis.call('hgetall', KEYS[1]).map.f", keys: []string{"h"}},
	{name: "smembers resp3 set", script: "redis.setresp(3) redis.call('sadd', KEYS[1], 'm') return redis.call('smembers', KEYS[1])", keys: []string{"s"}},
	{name: "zscore resp3 double", script: "redis.setresp(3) redis.call('zadd', KEYS[1], 1.5, 'm') return redis.call('zscore', KEYS[1], 'm')", keys: []string{"z"}},
	{name: "double field", script: "redis.setresp(3) redis.call('zadd', KEYS[1], 2.5, 'm') return redis.call('zscore', KEYS[1], 'm').double * 2", keys: []string{"z"}},
	{name: "zrange withscores resp3", script: "redis.setresp(3) redis.call('zadd', KEYS[1], 1.5, 'm') return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", keys: []string{"z"}},
	{name: "resp3 integer", script: "redis.setresp(3) return redis.call('exists', 'nosuch')"},
	{name: "number args %.17g", script: "redis.call('set', KEYS[1], 0.1) return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{name: "number args big", script: "redis.call('set', KEYS[1], 123456789012345678) return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{name: "number args exponent", script: "redis.call('set', KEYS[1], 1e20) return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{name: "number args integer", script: "redis.call('set', KEYS[1], 10) return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{name: "set with options", script: "return redis.call('set', KEYS[1], 'v', 'EX', 100)", keys: []string{"k"}},

	// redis.pcall and error tables.
	{name: "pcall error table", script: "redis.call('set', KEYS[1], 'x') return redis.pcall('incr', KEYS[1])", keys: []string{"k"}},
	{name: "pcall err field", script: "redis.call('set', KEYS[1], 'x') local r = redis.pcall('incr', KEYS[1]) return r.err", keys: []string{"k"}},
	{name: "wrongtype", script: "redis.call('set', KEYS[1], 'x') return redis.call('lpush', KEYS[1], 'a')", keys: []string{"k"}},
	{name: "call error", script: "redis.call('set', KEYS[1], 'x') return redis.call('incr', KEYS[1])", keys: []string{"k"}},
	{name: "call error line", script: "local x = 1\n\nredis.call('set', KEYS[1], 'x')\nreturn redis.call('incr', KEYS[1])", keys: []string{"k"}},
	{name: "call error in function", script: "local function f()\n  return redis.call('nosuch')\nend\nreturn f()"},
	{name: "pcall of call", script: "local ok, e = pcall(redis.call, 'nosuch') return {ok and 1 or 0, e}"},
	{name: "pcall of error table", script: "local ok, e = pcall(function() error({err='E x'}) end) return {type(e), e}"},
	{name: "pcall table without err", script: "local ok, e = pcall(function() error({foo=1}) end) return {type(e), e.foo}"},
	{name: "xpcall keeps table", script: "local ok, e = xpcall(function() error({err='E x'}) end, function(x) return x end) return {type(e), e}"},
	{name: "pcall success", script: "return {pcall(function(a, b) return a + b, 'x' end, 1, 2)}"},

	// Error texts.
	{name: "unknown command", script: "return redis.call('nosuch')"},
	{name: "unknown command pcall", script: "return redis.pcall('nosuch')"},
	{name: "command as number", script: "return redis.call(1)"},
	{name: "wrong arity", script: "return redis.call('get')"},
	{name: "wrong arity pcall", script: "return redis.pcall('get')"},
	{name: "noscript multi", script: "return redis.call('multi')"},
	{name: "noscript eval", script: "return redis.call('eval', 'return 1', '0')"},
	{name: "noscript subscribe", script: "return redis.call('subscribe', 'c')"},
	{name: "noscript subcommand", script: "return redis.call('client', 'no-evict', 'on')"},
	{name: "read-only write", script: "return redis.call('set', 'k', 'v')", ro: true},
	{name: "read-only write pcall", script: "return redis.pcall('set', 'k', 'v')", ro: true},
	{name: "read-only read", script: "return redis.call('get', 'k')", ro: true},
	{name: "table argument", script: "return redis.call('set', 'x', {})"},
	{name: "table argument pcall", script: "return redis.pcall('set', 'x', {})"},
	{name: "boolean argument", script: "return redis.call('set', 'k', true)"},
	{name: "nil argument", script: "return redis.call('set', 'k', nil)"},
	{name: "no arguments", script: "return redis.call()"},
	{name: "no arguments pcall", script: "return redis.pcall()"},
	{name: "error string", script: "return error('boom')"},
	{name: "error newline", script: "return error('a\\nb')"},
	{name: "error level 0", script: "return error('boom', 0)"},
	{name: "error level 2", script: "return error('boom', 2)"},
	{name: "error number", script: "return error(5)"},
	{name: "error nil", script: "return error(nil)"},
	{name: "error no argument", script: "error()"},
	{name: "error table", script: "return error({err='My Error'})"},
	{name: "error table no code", script: "return error({err='boom'})"},
	{name: "error table own position", script: "return error({err='X y', source='s', line=3})"},
	{name: "error line 3", script: "local a = 1\nlocal b = 2\nerror('here')"},
	{name: "setresp bad", script: "return redis.setresp(4)"},
	{name: "setresp none", script: "return redis.setresp()"},
	{name: "set_repl bad", script: "return redis.set_repl(9)"},
	{name: "set_repl none", script: "return redis.set_repl()"},
	{name: "set_repl ok", script: "redis.set_repl(redis.REPL_ALL) return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}"},
	{name: "log level bad", script: "return redis.log(7, 'x')"},
	{name: "log level not number", script: "return redis.log('x', 'x')"},
	{name: "log one argument", script: "return redis.log(1)"},
	{name: "log", script: "return redis.log(redis.LOG_WARNING, 'hello', 1)"},
	{name: "log levels", script: "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"},
	{name: "sha1hex", script: "return {redis.sha1hex(''), redis.sha1hex('abc'), redis.sha1hex(1)}"},
	{name: "sha1hex none", script: "return redis.sha1hex()"},
	{name: "acl_check_cmd", script: "return redis.acl_check_cmd('get', 'x')"},
	{name: "acl_check_cmd unknown", script: "return redis.acl_check_cmd('nosuch')"},
	{name: "replicate_commands", script: "return redis.replicate_commands()"},
	{name: "breakpoint and debug", script: "return {redis.breakpoint(), redis.debug('x')}"},
	{name: "version", script: "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}"},
	{name: "err handler", script: "return __redis__err__handler('x')"},
	{name: "compile error", script: "return x y",
		differs: "gopher-lua's parser words syntax errors its own way"},
	{name: "compile error eof", script: "return (",
		differs: "gopher-lua's parser words syntax errors its own way"},
	{name: "runtime error arithmetic", script: "return nil + 1",
		differs: "gopher-lua words runtime errors its own way"},
	{name: "runtime error index", script: "local x = nil; return x.y",
		differs: "gopher-lua words runtime errors its own way"},

	// Sandbox.
	{name: "create global", script: "x = 5"},
	{name: "create global in function", script: "local function f() y = 1 end f() return 1"},
	{name: "global function", script: "function f() return 1 end return f()"},
	{name: "read missing global", script: "return y"},
	{name: "library field write", script: "string.foo = 1 return 1"},
	{name: "library field overwrite", script: "string.upper = nil return 1"},
	{name: "redis overwrite", script: "redis.call = nil return 1"},
	{name: "rawset global", script: "rawset(_G, 'zz', 1) return 1"},
	{name: "setmetatable global", script: "return setmetatable(_G, nil)"},
	{name: "string metatable", script: "getmetatable('').__index = {} return 1"},
	{name: "string metatable index", script: "return type(getmetatable('').__index)"},
	{name: "global metatable exists", script: "return getmetatable(_G) ~= nil"},
	{name: "library has no metatable", script: "return tostring(getmetatable(string))"},
	{name: "local tables are writable", script: "local t = {} t.x = 1 setmetatable(t, {}) rawset(t, 'y', 2) return {t.x, t.y}"},
	{name: "no print", script: "print('x')"},
	{name: "no os", script: "return os.time()"},
	{name: "no io", script: "return io.write('x')"},
	{name: "no require", script: "return require('x')"},
	{name: "no module", script: "return module('x')"},
	{name: "no loadfile", script: "return loadfile('/etc/passwd')"},
	{name: "no dofile", script: "return dofile('/etc/passwd')"},
	{name: "no debug", script: "return debug.getinfo(1)"},
	{name: "no getfenv", script: "return getfenv(1)"},
	{name: "no setfenv", script: "return setfenv(1, {})"},
	{name: "no newproxy", script: "return newproxy()"},
	{name: "loadstring", script: "return loadstring('return 1 + 1')()"},
	{name: "loadstring global", script: "local f = loadstring('x = 1') f() return 1",
		differs: "the chunk is named differently in the position prefix"},
	{name: "string listing", script: "local t = {} for k, v in pairs(string) do t[#t+1] = k end table.sort(t) return t"},
	{name: "math listing", script: "local t = {} for k, v in pairs(math) do t[#t+1] = k end table.sort(t) return t"},
	{name: "table.foreach", script: "local s = '' table.foreachi({'a', 'b'}, function(i, v) s = s .. i .. v end) return {s, table.foreach({x=1}, function(k, v) return k end)}"},
	{name: "table listing", script: "local t = {} for k, v in pairs(table) do t[#t+1] = k end table.sort(t) return t"},
	{name: "cjson listing", script: "local t = {} for k, v in pairs(cjson) do t[#t+1] = k end table.sort(t) return t"},
	{name: "globals listing", script: "local t = {} for k, v in pairs(_G) do t[#t+1] = k end table.sort(t) return t",
		differs: "cmsgpack and struct are not provided"},
	{name: "bit listing", script: "local t = {} for k in pairs(bit) do t[#t+1] = k end table.sort(t) return t"},
	{name: "redis listing", script: "local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t"},
	{name: "rawget library", script: "return {type(rawget(_G, 'string')), type(rawget(string, 'upper'))}"},
	{name: "version string", script: "return _VERSION"},

	// Numbers and the standard libraries.
	{name: "tostring", script: "return {tostring(1/3), tostring(1e15), tostring(2^53), tostring(0.5), tostring(1/0), tostring(-1/0), tostring(0/0)}"},
	// Lua 5.1 shares one constant slot between 0 and -0, so -0 gets a
	// script of its own.
	{name: "tostring -0", script: "return tostring(-0)"},
	{name: "concat numbers", script: "return 'x' .. 1/3",
		differs: "gopher-lua converts numbers to strings with Go's shortest form, not %.14g"},
	{name: "tonumber", script: "return {tonumber('10'), tonumber('0x10'), tonumber('  5  '), tonumber('x') == nil}"},
	{name: "math", script: "return {math.floor(3.7), math.ceil(3.2), math.max(1, 5, 3), math.min(2, 0), math.abs(-4), math.fmod(7, 3), math.pow(2, 10), math.sqrt(16)}"},
	{name: "math.huge", script: "return math.huge"},
	{name: "math.huge is infinite", script: "return {tostring(math.huge), tostring(-math.huge), math.huge > 1e308}"},
	{name: "tonumber with a base", script: "return {tonumber(10, 16), tonumber('ff', 16), tonumber('FF', 16), tonumber('zz', 36), tonumber('8', 8) == nil, tonumber('7', 8), " +
		"tonumber('  ff  ', 16), tonumber('+ff', 16), tonumber('0xff', 16), tonumber('11', 2), tonumber('1', '16'), tonumber('10', 16.9), tonumber('10', 2^32+16), " +
		"tonumber('ff\\0zz', 16), tonumber('1e1', 16), tostring(tonumber('-ff', 16)), tostring(tonumber('ffffffffffffffffff', 16)), tostring(tonumber('-ffffffffffffffff', 16)), " +
		"tostring(tonumber('1.5', 16)), tostring(tonumber(1.5, 16)), tostring(tonumber('0x', 16)), tostring(tonumber('- 1', 16)), tostring(tonumber('', 16)), tostring(tonumber('10', nil))}"},
	{name: "tonumber base 1", script: "return tonumber('1', 1)"},
	{name: "tonumber base 37", script: "return tonumber('1', 37)"},
	{name: "tonumber base -1", script: "return tonumber('1', -1)"},
	{name: "tonumber base nan", script: "return tonumber('1', 0/0)"},
	{name: "tonumber base not a number", script: "return tonumber('1', 'x')"},
	{name: "tonumber base of nil", script: "return tonumber(nil, 16)"},
	{name: "tonumber base of a table", script: "return tonumber({}, 16)"},
	{name: "tonumber no argument", script: "return tonumber()"},
	{name: "tonumber hex", script: "return {tonumber('0x10'), tonumber('  0x1A  '), tonumber('0x1p4'), tonumber('0X1P-2') * 4, tonumber('0x1.8') * 2, tonumber('0x.8') * 2, " +
		"tonumber('-0x10'), tonumber('\\t0x1\\n'), tonumber('10\\0abc'), tonumber('0x10\\0zz'), tostring(tonumber('0x')), tostring(tonumber('0x.')), tostring(tonumber('0x1p')), " +
		"tostring(tonumber('0xg')), tostring(tonumber('0x-1')), tostring(tonumber('0x1p99999')), tostring(tonumber('0xffffffffffffffffff')), tostring(tonumber('0x1.fffffffffffff8p1023'))}"},
	{name: "tonumber nan and spaces", script: "return {tostring(tonumber('-nan')), tostring(tonumber('nan(12)')), tostring(tonumber('nan(12')), tostring(tonumber('\\194\\160 5')), tonumber('\\v5\\f')}"},
	{name: "tonumber as strtod", script: "return {tonumber('1e1'), tonumber('1E2'), tonumber('1e+2'), tonumber('-1e1'), tonumber(' 1e1 '), " +
		"tostring(tonumber('12345678901234567890')), tostring(tonumber('inf')), tostring(tonumber('-infinity')), " +
		"tonumber('1e1', 10), tonumber('1e1', nil), tonumber('ff', 16), tonumber('1e') == nil, tonumber('1e1x') == nil, tostring(tonumber('nan'))}"},
	{name: "table functions", script: "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) local r = table.remove(t, 1) return {table.concat(t, ','), r, #t, select('#', 1, 2, 3), unpack({7, 8})}"},
	{name: "string functions", script: "return {string.sub('hello', 2, 3), string.upper('a'), string.lower('B'), string.rep('ab', 3), string.len('xyz'), string.byte('A'), string.char(72, 105), string.reverse('abc')}"},
	{name: "string patterns", script: "local a, b = string.find('hello world', 'o w') return {a, b, string.match('key:123', '%d+'), (string.gsub('a-b-c', '-', '+'))}"},
	{name: "string methods", script: "local s = 'abc' return s:upper() .. s:len()"},
	{name: "string.format", script: "return string.format('%d %s %5.2f %x', 3, 'x', 1.5, 255)"},
	{name: "string.format %q", script: `return {string.format('%q', 'a"b\\c\nd\re\0f'), string.format('%q', '')}`},
	{name: "string.format %q all bytes", script: "local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end return string.format('%q', table.concat(t))"},
	{name: "string.format %q number", script: "return {string.format('%q', 1/3), string.format('%q', 10), string.format('%q', -1e100)}"},
	{name: "string.format %q ignores width", script: "return string.format('%10q|%-10q|%.1q', 'ab', 'cd', 'ef')"},
	{name: "string.format %q table", script: "return string.format('%q', {})"},
	{name: "string.format %q missing", script: "return string.format('%q')"},
	{name: "string.format integers", script: formatGrid("'d', 'i', 'o', 'u', 'x', 'X', 'c'")},
	{name: "string.format floats", script: formatGrid("'e', 'E', 'f', 'g', 'G'")},
	{name: "string.format strings", script: stringFormatGrid},
	{name: "string.format %s number", script: "return {string.format('%s', 1/3), string.format('%5.3s|', 12345)}"},
	{name: "string.format %d string", script: "return string.format('%d %d %x', '10', ' 0x1p4 ', '-1')"},
	{name: "string.format missing argument", script: "return string.format('%s %s', 'a')"},
	{name: "string.format number expected", script: "return string.format('%d', 'x')"},
	{name: "string.format string expected", script: "return string.format('%s', true)"},
	{name: "string.format invalid option", script: "return string.format('%y', 1)"},
	{name: "string.format length modifier", script: "return string.format('%ld', 1)"},
	{name: "string.format trailing percent", script: "return string.format('%5', 1)"},
	{name: "string.format repeated flags", script: "return string.format('%------d', 1)"},
	{name: "string.format width too long", script: "return string.format('%123d', 1)"},
	{name: "string.format precision too long", script: "return string.format('%1.123f', 1)"},
	{name: "string.format no format", script: "return string.format()"},
	{name: "gmatch", script: "local t = {} for w in string.gmatch('a b c', '%a') do t[#t+1] = w end return t"},
	{name: "coroutine", script: "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return {x, y, coroutine.status(co)}"},
	{name: "closures", script: "local function counter() local n = 0 return function() n = n + 1 return n end end local c = counter() c() return c()"},
	{name: "varargs", script: "local function f(...) return select('#', ...) end return f(1, nil, 3)"},
	{name: "ipairs", script: "local s = 0 for i, v in ipairs({1, 2, 3}) do s = s + v end return s"},
	{name: "pairs count", script: "local n = 0 for k, v in pairs({a=1, b=2, 3}) do n = n + 1 end return n"},
	{name: "type", script: "return {type(1), type('x'), type({}), type(nil), type(true), type(print == nil)}", differs: "print is missing so reading it errors: same error either way"},

	// cjson.
	{name: "cjson array", script: "return cjson.encode({1,2,3})"},
	{name: "cjson refuses inf", script: "return cjson.encode({1, math.huge})"},
	{name: "cjson refuses -inf", script: "return cjson.encode(-math.huge)"},
	{name: "cjson empty table", script: "return cjson.encode({})"},
	{name: "cjson nested", script: "return cjson.encode({a={b={1,'x',true,false,cjson.null}}})"},
	{name: "cjson escapes", script: "return cjson.encode(string.char(127,0,31,47,8,9,10,12,13,34,92,200))"},
	{name: "cjson holes", script: "return cjson.encode({[1]=1,[3]=3})"},
	{name: "cjson sparse", script: "return cjson.encode({[1]=1,[20]=3})"},
	{name: "cjson float key", script: "return cjson.encode({[1.5]=1})"},
	{name: "cjson bad key", script: "return cjson.encode({[true]=1})"},
	{name: "cjson mixed", script: "return cjson.encode({1, x=2})", differs: "key order follows the Lua table's hash order"},
	{name: "cjson numbers", script: "return {cjson.encode(0.1), cjson.encode(1/3), cjson.encode(1e15), cjson.encode(123456789012345678), cjson.encode(-0), cjson.encode(42)}"},
	{name: "cjson inf", script: "return cjson.encode(1/0)"},
	{name: "cjson function", script: "return cjson.encode(redis.call)"},
	{name: "cjson no argument", script: "return cjson.encode()"},
	{name: "cjson two arguments", script: "return cjson.encode(1, 2)"},
	{name: "cjson self reference", script: "local t = {} t[1] = t return cjson.encode(t)"},
	{name: "cjson decode", script: "return cjson.decode('  [1, 2.5, -3e2, \"x\", true, false, null]  ')"},
	{name: "cjson decode object", script: "local t = cjson.decode('{\"a\":{\"b\":[1,{\"c\":null}]}}') return {t.a.b[1], t.a.b[2].c == cjson.null}"},
	{name: "cjson null type", script: "return type(cjson.null)"},
	{name: "cjson null holes", script: "return {#cjson.decode('[1,null,3]'), cjson.decode('[1,null,3]')[3]}"},
	{name: "cjson decode unicode", script: `return cjson.decode('"\\u00e9\\ud83d\\ude00\\n\\/"')`},
	{name: "cjson decode lenient numbers", script: "return {cjson.decode('01'), cjson.decode('0x10'), cjson.decode('-5'), cjson.decode('+7')}"},
	{name: "cjson decode huge", script: "return cjson.decode('1e400')"},
	{name: "cjson decode number arg", script: "return cjson.decode(5)"},
	{name: "cjson decode bad", script: "return cjson.decode('x')"},
	{name: "cjson decode empty", script: "return cjson.decode('')"},
	{name: "cjson decode trailing comma", script: "return cjson.decode('{\"a\":1,}')"},
	{name: "cjson decode unterminated array", script: "return cjson.decode('[1,2')"},
	{name: "cjson decode missing colon", script: "return cjson.decode('{\"a\" 1}')"},
	{name: "cjson decode number key", script: "return cjson.decode('{1:2}')"},
	{name: "cjson decode trailing", script: "return cjson.decode('[1] x')"},
	{name: "cjson decode bad escape", script: `return cjson.decode('"\\x"')`},
	{name: "cjson decode unterminated string", script: `return cjson.decode('"abc')`},
	{name: "cjson decode lone surrogate", script: `return cjson.decode('"\\ud83d"')`},
	{name: "cjson decode minus", script: "return cjson.decode('-')"},
	{name: "cjson decode tru", script: "return cjson.decode('tru')"},
	{name: "cjson decode table arg", script: "return cjson.decode({})"},
	{name: "cjson decode no arg", script: "return cjson.decode()"},
	{name: "cjson decode deep", script: "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"},
	{name: "cjson round trip deep", script: "return #cjson.encode(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))"},
	{name: "cjson round trip", script: "local v = cjson.decode(ARGV[1]) return cjson.encode(v)", args: []string{`{"user":{"id":7,"tags":["a","b"],"ok":true,"none":null,"score":1.25}}`},
		differs: "key order follows the Lua table's hash order"},
	{name: "cjson round trip array", script: "return cjson.encode(cjson.decode(ARGV[1]))", args: []string{`[1,"two",[3,[4]],{"k":"v"},null,false]`}},
	{name: "cjson lock payload", script: "local t = cjson.decode(ARGV[1]) if t.owner == 'me' then return t.ttl end return 0", args: []string{`{"owner":"me","ttl":30}`}},

	// bit.
	{name: "bit tobit", script: "return {bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(2^53+3), bit.tobit(0/0), bit.tobit(1/0)}"},
	{name: "bit tohex", script: "return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 12), bit.tohex(1, 0), bit.tohex(1, -100)}"},
	{name: "bit logic", script: "return {bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bor(1), bit.band('12', '10')}"},
	{name: "bit shifts", script: "return {bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), bit.lshift(1, 33), bit.rol(5, 0)}"},
	{name: "bit bad argument", script: "return bit.band('x')"},
	{name: "bit nil argument", script: "return bit.band(nil)"},
	{name: "bit no argument", script: "return bit.band()"},
	{name: "bit missing second", script: "return bit.lshift(1)"},

	// Shebang.
	{name: "shebang no-writes", script: "#!lua flags=no-writes\nreturn redis.call('set','k','v')"},
	{name: "shebang error line", script: "#!lua flags=no-writes\nreturn error('x')"},
	{name: "shebang plain", script: "#!lua\nreturn redis.call('set','k','v')"},
	{name: "shebang bad flag", script: "#!lua flags=bogus\nreturn 1"},
	{name: "shebang bad engine", script: "#!python\nreturn 1"},
	{name: "shebang bad option", script: "#!lua name=x\nreturn 1"},
	{name: "shebang all flags", script: "#!lua flags=allow-oom,no-cluster,allow-stale,allow-cross-slot-keys\nreturn 1"},
	{name: "shebang no newline", script: "#!lua"},
	{name: "shebang ro without flag", script: "#!lua\nreturn 1", ro: true},
	{name: "shebang ro with flag", script: "#!lua flags=no-writes\nreturn 1", ro: true},

	// Real scripts.
	{name: "lock release owner", script: lockRelease, keys: []string{"lock"}, args: []string{"me"},
		setup: [][]string{{"set", "lock", "me"}}},
	{name: "lock release other", script: lockRelease, keys: []string{"lock"}, args: []string{"me"},
		setup: [][]string{{"set", "lock", "you"}}},
	{name: "lock release missing", script: lockRelease, keys: []string{"lock"}, args: []string{"me"}},
	{name: "token bucket first", script: tokenBucket, keys: []string{"rl"}, args: []string{"0.5", "10", "1000", "1"}},
	{name: "token bucket refill", script: tokenBucket, keys: []string{"rl"}, args: []string{"0.5", "10", "1004", "3"},
		setup: [][]string{{"hset", "rl", "tokens", "1", "ts", "1000"}}},
	{name: "token bucket refused", script: tokenBucket, keys: []string{"rl"}, args: []string{"0.5", "10", "1001", "5"},
		setup: [][]string{{"hset", "rl", "tokens", "1", "ts", "1000"}}},
	{name: "counter with expiry", script: "local n = redis.call('incrby', KEYS[1], ARGV[1]) if n == tonumber(ARGV[1]) then redis.call('expire', KEYS[1], 60) end return {n, redis.call('ttl', KEYS[1])}",
		keys: []string{"c"}, args: []string{"5"}},
}

// formatGrid is a script that formats numbers of every kind with each
// of verbs under many flags, widths and precisions, joined in one reply.
func formatGrid(verbs string) string {
	return `
local flags = {'', '-', '+', ' ', '#', '0', '-0', '+0', ' 0', '#0', '-#', '+ ', '# 0'}
local sizes = {'', '1', '8', '12', '.0', '.1', '.3', '8.3', '12.0', '2.10', '.17', '20.15'}
local values = {0, 1, -1, 7, -7, 0.5, 1.5, 2.5, -2.5, 255, 3.14159, 1/3, -1/3, 1e-5, 1e-4, 123456, 1234567, 1e15, 1e16,
  2^53, 2^63, -2^63, 2^64, 1e100, -1e-100, 9.9999999, 0.000099999, 1/0, -1/0, 0/0, 4.9e-324, 1.7976931348623157e308}
local out = {}
for _, verb in ipairs({` + verbs + `}) do
  for _, f in ipairs(flags) do for _, s in ipairs(sizes) do for _, v in ipairs(values) do
    out[#out+1] = string.format('%' .. f .. s .. verb, v)
  end end end
end
return table.concat(out, '|')`
}

// stringFormatGrid formats strings (short, long, with NULs) and numbers
// with "%s" and "%q" under flags, widths and precisions.
var stringFormatGrid = `
local flags = {'', '-', '0', '-0', '#', '+', ' '}
local sizes = {'', '1', '5', '12', '.0', '.2', '5.2', '99', '.99'}
local values = {'', 'a', 'abc', 'a\0bc', '\0', 12, 1/3, -0.5, string.rep('x', 99), string.rep('y', 100), string.rep('z\0', 60)}
local out = {}
for _, verb in ipairs({'s', 'q'}) do
  for _, f in ipairs(flags) do for _, s in ipairs(sizes) do for _, v in ipairs(values) do
    out[#out+1] = string.format('%' .. f .. s .. verb, v)
  end end end
end
return table.concat(out, '|')`

func TestOracle(t *testing.T) {
	addr := startRedis(t)
	client := map[int]*respConn{2: dialRESP(t, addr, 2), 3: dialRESP(t, addr, 3)}
	host := newRedisHost(t, addr)
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range oracleCases {
		for _, proto := range []int{2, 3} {
			if tc.proto != 0 && tc.proto != proto {
				continue
			}
			t.Run(tc.name+"/resp"+strconv.Itoa(proto), func(t *testing.T) {
				c := client[proto]
				prepare := func() {
					c.do("FLUSHALL")
					for _, s := range tc.setup {
						c.do(s...)
					}
				}
				prepare()
				cmd := "EVAL"
				if tc.ro {
					cmd = "EVAL_RO"
				}
				args := append([]string{cmd, tc.script, strconv.Itoa(len(tc.keys))}, tc.keys...)
				want := c.do(append(args, tc.args...)...)
				prepare()
				got := e.Eval(context.Background(), []byte(tc.script), Run{
					Keys: bytesOf(tc.keys), Args: bytesOf(tc.args), Proto: proto, ReadOnly: tc.ro, Host: host,
				})
				switch {
				case tc.differs != "":
					if len(got) == 0 || got[0] != want[0] {
						t.Errorf("reply type differs (known difference: %s)\n got %q\nwant %q", tc.differs, got, want)
					} else if !bytes.Equal(got, want) {
						t.Logf("known difference: %s\n got %q\nwant %q", tc.differs, got, want)
					}
				case !bytes.Equal(got, want):
					t.Errorf("\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
