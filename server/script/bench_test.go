package script

import (
	"context"
	"testing"
)

func BenchmarkEval(b *testing.B) {
	for _, bc := range []struct{ name, script string }{
		{"return", "return 1"},
		{"call", "return redis.call('get', KEYS[1])"},
		{"cjson", "return cjson.encode({a = ARGV[1], n = 5})"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEngine(b, DefaultConfig())
			r := Run{Keys: [][]byte{[]byte("k")}, Args: [][]byte{[]byte("v")}, Host: newMemHost()}
			body := []byte(bc.script)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.Eval(context.Background(), body, r)
				}
			})
		})
	}
}
