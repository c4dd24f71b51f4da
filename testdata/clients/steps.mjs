// Shared by the Node.js client scripts: run a step, print its result as
// one JSON line with values normalized (buffers and verbatim strings as
// text, maps as sorted objects, errors as their message).
export async function run(name, f) {
  let out;
  try {
    out = normalize(await f());
  } catch (e) {
    out = { error: e.message };
  }
  console.log(JSON.stringify([name, out]));
}

function normalize(v) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString();
  if (v instanceof Map) return normalize(Object.fromEntries(v));
  if (v instanceof Set) return [...v].map(normalize).sort();
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === 'object' && typeof v.toString === 'function' && v.constructor && v.constructor.name === 'VerbatimString') return v.toString();
  if (typeof v === 'object') {
    const o = {};
    for (const key of Object.keys(v).sort()) o[key] = normalize(v[key]);
    return o;
  }
  return v;
}

export function finish() {
  console.log(JSON.stringify(['done', true]));
}
