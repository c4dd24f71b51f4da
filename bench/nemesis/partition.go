package nemesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// A partition with iptables on the loopback interface. Every node listens
// on 127.0.0.1, so addresses cannot tell the partitioned node's packets
// from the others': ports can, except for the connections it dials
// itself, which leave from ephemeral ports. So the partitioned node runs
// as its own user (partitionUID) and its outgoing packets are matched by
// owner. The rules, all in OUTPUT (which sees every loopback packet):
//
//	to or from its cluster and gossip ports, TCP and UDP: DROP
//	from its user to the other nodes' cluster and gossip ports: DROP
//
// Its client port stays reachable. Each rule carries a comment unique to
// the run; remove deletes exactly the rules apply added, then any rule
// still carrying the comment.

// partitionUID is the user (and group) the partitioned node runs as:
// nobody on Debian and most Linux systems.
const partitionUID = 65534

// iptablesTimeout bounds one iptables command.
const iptablesTimeout = 10 * time.Second

// partition is a set of iptables rules, added in order.
type partition struct {
	tag   string
	rules [][]string // rule specifications, without the chain
	added int        // rules[:added] are in place
}

// newTag returns a comment unique to this run of the checker.
func newTag() string {
	return fmt.Sprintf("ringcache-nemesis-%d-%s", os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36))
}

// partitionRules returns the rules that cut a node off: victim are its
// cluster and gossip ports, others the other nodes'.
func partitionRules(tag string, victim, others []string, uid int) [][]string {
	tail := []string{"-m", "comment", "--comment", tag, "-j", "DROP"}
	rule := func(parts ...string) []string {
		return append(append([]string{"-o", "lo"}, parts...), tail...)
	}
	v, o := strings.Join(victim, ","), strings.Join(others, ",")
	u := strconv.Itoa(uid)
	var out [][]string
	for _, proto := range []string{"tcp", "udp"} {
		out = append(out,
			rule("-p", proto, "-m", "multiport", "--dports", v),
			rule("-p", proto, "-m", "multiport", "--sports", v),
			rule("-p", proto, "-m", "owner", "--uid-owner", u, "-m", "multiport", "--dports", o))
	}
	return out
}

// portsOf returns the ports of addrs.
func portsOf(addrs ...string) ([]string, error) {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// newPartition describes the partition of cl's node i.
func newPartition(cl *cluster, i int, tag string) (*partition, error) {
	victim, err := portsOf(cl.nodes[i].cluster, cl.nodes[i].gossip)
	if err != nil {
		return nil, err
	}
	var others []string
	for j, n := range cl.nodes {
		if j != i {
			p, err := portsOf(n.cluster, n.gossip)
			if err != nil {
				return nil, err
			}
			others = append(others, p...)
		}
	}
	return &partition{tag: tag, rules: partitionRules(tag, victim, others, partitionUID)}, nil
}

// apply inserts the rules at the head of OUTPUT. On failure the rules
// already added stay recorded, for remove.
func (p *partition) apply(ctx context.Context) error {
	for p.added < len(p.rules) {
		if err := iptables(ctx, append([]string{"-I", "OUTPUT", "1"}, p.rules[p.added]...)...); err != nil {
			return err
		}
		p.added++
	}
	return nil
}

// remove deletes the rules apply added, then any rule left with the tag.
func (p *partition) remove(ctx context.Context) error {
	var errs []error
	for p.added > 0 {
		p.added--
		errs = append(errs, iptables(ctx, append([]string{"-D", "OUTPUT"}, p.rules[p.added]...)...))
	}
	errs = append(errs, sweep(ctx, p.tag))
	return errors.Join(errs...)
}

// sweep deletes every OUTPUT rule carrying tag.
func sweep(ctx context.Context, tag string) error {
	listing, err := iptablesOutput(ctx, "-S", "OUTPUT")
	if err != nil {
		return err
	}
	var errs []error
	for _, args := range taggedDeletes(listing, tag) {
		errs = append(errs, iptables(ctx, args...))
	}
	return errors.Join(errs...)
}

// taggedDeletes turns the "-A OUTPUT ..." lines of an iptables -S listing
// that carry tag into the arguments that delete them.
func taggedDeletes(listing, tag string) [][]string {
	var out [][]string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		tagged := false
		for i := 0; i+1 < len(f); i++ {
			tagged = tagged || (f[i] == "--comment" && f[i+1] == tag)
		}
		if len(f) > 1 && f[0] == "-A" && tagged {
			out = append(out, append([]string{"-D"}, f[1:]...))
		}
	}
	return out
}

// probeIptables returns why the partition cannot run here, or "": it
// needs root and an iptables that accepts the owner and comment matches
// (a rule is added and deleted to find out).
func probeIptables(ctx context.Context) string {
	if os.Geteuid() != 0 {
		return "iptables needs root, and the checker runs as uid " + strconv.Itoa(os.Geteuid())
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return "no iptables binary: " + err.Error()
	}
	tag := newTag() + "-probe"
	rule := []string{"-o", "lo", "-p", "tcp", "-m", "owner", "--uid-owner", strconv.Itoa(partitionUID),
		"-m", "multiport", "--dports", "9", "-m", "comment", "--comment", tag, "-j", "DROP"}
	if err := iptables(ctx, append([]string{"-I", "OUTPUT", "1"}, rule...)...); err != nil {
		return "iptables unusable: " + err.Error()
	}
	if err := iptables(ctx, append([]string{"-D", "OUTPUT"}, rule...)...); err != nil {
		_ = sweep(ctx, tag)
		return "iptables unusable: " + err.Error()
	}
	return ""
}

func iptables(ctx context.Context, args ...string) error {
	_, err := iptablesOutput(ctx, args...)
	return err
}

// iptablesOutput runs iptables (waiting for the xtables lock) and returns
// its standard output.
func iptablesOutput(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, iptablesTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "iptables", append([]string{"-w", "5"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
