package server

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"user:*", "user:1", true},
		{"user:*", "user", false},
		{"*:1", "user:1", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h*llo", "hllo", true},
		{"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hbllo", true},
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`[\]]`, "]", true},
		{"[abc", "b", true},
		{"[abc", "bx", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"*a*a*a*", "aaa", true},
		{"*a*a*a*", "aa", false},
		{`\`, `\`, true},
		{"**x", "yyx", true},
		{"[a-]", "-", false},
		{"[-a]", "-", true},
	}
	for _, tt := range tests {
		if got := globMatch([]byte(tt.pattern), []byte(tt.s)); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		if got := refMatch([]byte(tt.pattern), []byte(tt.s)); got != tt.want {
			t.Errorf("reference(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// refMatch is the reference globMatch is checked against: the recursive
// matcher Redis's semantics describe, trying every split at a '*'.
func refMatch(p, s []byte) bool {
	for len(p) > 0 {
		if p[0] == '*' {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			if len(p) == 0 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if refMatch(p, s[i:]) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 {
			return false
		}
		n, ok := matchByte(p, s[0])
		if !ok {
			return false
		}
		p, s = p[n:], s[1:]
	}
	return len(s) == 0
}

func FuzzGlobMatch(f *testing.F) {
	f.Add([]byte("a*b?[c-e]"), []byte("axxbzd"))
	f.Add([]byte(`*\[x*`), []byte("[x"))
	f.Fuzz(func(t *testing.T, p, s []byte) {
		if len(p) > 16 || len(s) > 32 {
			return // the reference is exponential
		}
		if got, want := globMatch(p, s), refMatch(p, s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, the reference says %v", p, s, got, want)
		}
	})
}
