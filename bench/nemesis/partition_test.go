package nemesis

import (
	"slices"
	"strings"
	"testing"
)

func TestPartitionRules(t *testing.T) {
	rules := partitionRules("tag-1", []string{"7101", "7201"}, []string{"7102", "7202", "7103", "7203"}, 65534)
	if len(rules) != 6 {
		t.Fatalf("%d rules, want 6: %q", len(rules), rules)
	}
	var text []string
	for _, r := range rules {
		s := strings.Join(r, " ")
		if !strings.HasPrefix(s, "-o lo -p ") || !strings.HasSuffix(s, "-m comment --comment tag-1 -j DROP") {
			t.Fatalf("rule %q: want loopback, a protocol, the tag and DROP", s)
		}
		text = append(text, s)
	}
	for _, want := range []string{
		"-o lo -p tcp -m multiport --dports 7101,7201 ",
		"-o lo -p tcp -m multiport --sports 7101,7201 ",
		"-o lo -p tcp -m owner --uid-owner 65534 -m multiport --dports 7102,7202,7103,7203 ",
		"-o lo -p udp -m multiport --dports 7101,7201 ",
		"-o lo -p udp -m multiport --sports 7101,7201 ",
		"-o lo -p udp -m owner --uid-owner 65534 -m multiport --dports 7102,7202,7103,7203 ",
	} {
		if !slices.ContainsFunc(text, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no rule starting %q in %q", want, text)
		}
	}
}

func TestTaggedDeletes(t *testing.T) {
	listing := `-P OUTPUT ACCEPT
-A OUTPUT -o lo -p tcp -m multiport --dports 1,2 -m comment --comment tag-1 -j DROP
-A OUTPUT -o lo -p tcp -m multiport --dports 3 -m comment --comment tag-10 -j DROP
-A OUTPUT -o lo -p udp -m comment --comment "tag-1" -j DROP
-A OUTPUT -p tcp -j ACCEPT
`
	got := taggedDeletes(listing, "tag-1")
	want := [][]string{
		strings.Fields("-D OUTPUT -o lo -p tcp -m multiport --dports 1,2 -m comment --comment tag-1 -j DROP"),
		strings.Fields("-D OUTPUT -o lo -p udp -m comment --comment tag-1 -j DROP"),
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestPortsOf(t *testing.T) {
	got, err := portsOf("127.0.0.1:7101", "127.0.0.1:7201")
	if err != nil || !slices.Equal(got, []string{"7101", "7201"}) {
		t.Fatalf("portsOf = %v, %v", got, err)
	}
	if _, err := portsOf("no-port"); err == nil {
		t.Fatal("an address without a port was accepted")
	}
}
