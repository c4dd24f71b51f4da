package bench

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// redisBench runs redis-benchmark against one address. It starts in csv
// mode and switches to the human-readable output for good the first time
// the csv lacks latency columns (redis-benchmark before 7.0).
type redisBench struct {
	cfg      CompareConfig
	textMode bool
	// tags are the hash tags of the target measured now whose primary is
	// the node measured and another node (Primaries).
	tags [2]string
	// commands records every command line run, for the report.
	commands []string
}

// args builds the redis-benchmark argument list for one invocation.
func (b *redisBench) args(addr string, pipeline, requests int) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bench: target address %q: %w", addr, err)
	}
	a := []string{"-h", host, "-p", port, "-t", b.cfg.Tests,
		"-c", strconv.Itoa(b.cfg.Clients), "-r", strconv.Itoa(b.cfg.KeySpace),
		"-d", strconv.Itoa(b.cfg.DataSize), "-P", strconv.Itoa(pipeline),
		"-n", strconv.Itoa(requests)}
	if !b.textMode {
		a = append(a, "--csv")
	}
	return a, nil
}

// run measures the tests, then the script if there is one, and returns
// their samples.
func (b *redisBench) run(ctx context.Context, addr string, pipeline, requests int) ([]Sample, error) {
	args, err := b.args(addr, pipeline, requests)
	if err != nil {
		return nil, err
	}
	samples, err := b.runArgs(ctx, args)
	if err != nil {
		return samples, err
	}
	if b.cfg.Primaries {
		for i, name := range []string{"INCR@PRIMARY", "INCR@FORWARDED"} {
			more, err := b.runArgs(ctx, append(slices.Clone(args), "INCR", "{"+b.tags[i]+"}:__rand_int__"))
			if err != nil {
				return nil, err
			}
			for j := range more {
				more[j].Test = name
			}
			samples = append(samples, more...)
		}
	}
	if b.cfg.Script == "" {
		return samples, nil
	}
	// A command after the options replaces -t: redis-benchmark runs it
	// alone and names the test after it.
	args = append(args, "EVALSHA", ScriptSHA(b.cfg.Script), "1", "script:__rand_int__", "__rand_int__")
	more, err := b.runArgs(ctx, args)
	for i := range more {
		more[i].Test = "EVALSHA"
	}
	return append(samples, more...), err
}

// ScriptSHA is the name SCRIPT LOAD gives a script: its SHA1 in hex.
func ScriptSHA(script string) string {
	sum := sha1.Sum([]byte(script))
	return hex.EncodeToString(sum[:])
}

// runArgs executes one invocation and parses its samples.
func (b *redisBench) runArgs(ctx context.Context, args []string) ([]Sample, error) {
	line := commandLine(b.cfg.RedisBenchmark, args)
	b.commands = append(b.commands, line)
	logf(b.cfg.Log, "  $ %s\n", line)
	cmd := exec.CommandContext(ctx, b.cfg.RedisBenchmark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // progress lines in csv mode; kept for errors
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("bench: %s: %w: %s", line, err, lastLine(stderr.String()))
	}
	if b.textMode {
		return ParseText(out)
	}
	samples, err := ParseCSV(out)
	if errors.Is(err, ErrNoLatency) {
		logf(b.cfg.Log, "  redis-benchmark --csv has no latency columns; using its text output\n")
		b.textMode = true
		return b.runArgs(ctx, slices.DeleteFunc(args, func(a string) bool { return a == "--csv" }))
	}
	return samples, err
}

// requestsFor turns a calibration run into -n: enough requests that the
// fastest test takes minSeconds, never fewer than the calibration run had.
func requestsFor(cal []Sample, minSeconds float64, floor int) int {
	fastest := 0.0
	for _, s := range cal {
		fastest = math.Max(fastest, s.OpsPerSec)
	}
	n := int(math.Ceil(fastest*minSeconds/1000)) * 1000
	return max(n, floor)
}

// commandLine renders a command for people to copy into a shell.
func commandLine(bin string, args []string) string {
	parts := []string{shellQuote(bin)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-_./,:=+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLine(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r", "\n"))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
