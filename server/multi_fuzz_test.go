package server

import (
	"strconv"
	"testing"
)

// FuzzTransactionStateMachine drives MULTI, EXEC, DISCARD, WATCH,
// UNWATCH and queued commands, valid and refused, in the order the input
// says, and holds every reply to a model of Redis's transaction state
// machine. One deliberate difference is modelled: a DEL of a missing key
// still writes (a tombstone), so it changes the key's version and aborts
// an EXEC that watches it, where Redis would not.
func FuzzTransactionStateMachine(f *testing.F) {
	f.Add([]byte{0, 5, 6, 1})
	f.Add([]byte{3, 0, 5, 1, 0, 8, 1, 0, 9, 1, 2})
	f.Add([]byte{3, 5, 0, 6, 1, 0, 0, 3, 4, 1, 7, 7, 10, 2, 1})
	ts := defaultTestServer(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		r := ts.dial(t)
		r.expect("FLUSHALL", "+OK")
		m := newTxnModel()
		for i, op := range ops {
			key := "k" + strconv.Itoa(i%3)
			cmd, want := m.step(op%11, key, strconv.Itoa(int(op)))
			r.expect(cmd, want...)
		}
	})
}

// txnModel is Redis's transaction state machine over a map, for one
// client alone.
type txnModel struct {
	multi, failed bool
	queue         []func() []string
	values        map[string]string
	versions      map[string]int
	watched       map[string]int // key -> its version at WATCH
}

func newTxnModel() *txnModel {
	return &txnModel{values: map[string]string{}, versions: map[string]int{}, watched: map[string]int{}}
}

// step returns the inline command for op and the reply lines the model
// expects.
func (m *txnModel) step(op byte, key, val string) (string, []string) {
	switch op {
	case 0:
		if m.multi {
			return "MULTI", []string{"-ERR MULTI calls can not be nested"}
		}
		m.multi = true
		return "MULTI", []string{"+OK"}
	case 1:
		return "EXEC", m.exec()
	case 2:
		if !m.multi {
			return "DISCARD", []string{"-ERR DISCARD without MULTI"}
		}
		m.reset()
		return "DISCARD", []string{"+OK"}
	case 3:
		if m.multi {
			return "WATCH " + key, []string{"-ERR WATCH inside MULTI is not allowed"}
		}
		if _, ok := m.watched[key]; !ok {
			m.watched[key] = m.versions[key]
		}
		return "WATCH " + key, []string{"+OK"}
	case 4:
		return "UNWATCH", m.run(func() []string { m.watched = map[string]int{}; return []string{"+OK"} })
	case 5:
		return "SET " + key + " " + val, m.run(func() []string {
			m.write(key, val)
			return []string{"+OK"}
		})
	case 6:
		return "GET " + key, m.run(func() []string {
			v, ok := m.values[key]
			if !ok {
				return []string{"$-1"}
			}
			return []string{"$" + strconv.Itoa(len(v)), v}
		})
	case 7:
		return "INCR " + key, m.run(func() []string {
			n, err := strconv.ParseInt(cmpOr(m.values[key], "0"), 10, 64)
			if err != nil {
				return []string{"-ERR value is not an integer or out of range"}
			}
			m.write(key, strconv.FormatInt(n+1, 10))
			return []string{":" + strconv.FormatInt(n+1, 10)}
		})
	case 8:
		return "BADCMD " + key, m.refuse("-ERR unknown command 'BADCMD', with args beginning with: '" + key + "' ")
	case 9:
		return "SET " + key, m.refuse("-ERR wrong number of arguments for 'set' command")
	default:
		return "DEL " + key, m.run(func() []string {
			_, had := m.values[key]
			delete(m.values, key)
			m.versions[key]++ // a delete always writes a tombstone
			if had {
				return []string{":1"}
			}
			return []string{":0"}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *txnModel) write(key, val string) {
	m.values[key] = val
	m.versions[key]++
}

// run runs f now, or queues it inside MULTI.
func (m *txnModel) run(f func() []string) []string {
	if m.multi {
		m.queue = append(m.queue, f)
		return []string{"+QUEUED"}
	}
	return f()
}

// refuse answers a command refused before it runs; inside MULTI it
// dooms the transaction.
func (m *txnModel) refuse(reply string) []string {
	if m.multi {
		m.failed = true
	}
	return []string{reply}
}

func (m *txnModel) exec() []string {
	if !m.multi {
		return []string{"-ERR EXEC without MULTI"}
	}
	defer m.reset()
	if m.failed {
		return []string{"-EXECABORT Transaction discarded because of previous errors."}
	}
	for k, v := range m.watched {
		if m.versions[k] != v {
			return []string{"*-1"}
		}
	}
	out := []string{"*" + strconv.Itoa(len(m.queue))}
	for _, f := range m.queue {
		out = append(out, f()...)
	}
	return out
}

func (m *txnModel) reset() {
	m.multi, m.failed, m.queue = false, false, nil
	m.watched = map[string]int{}
}
