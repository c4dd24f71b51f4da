package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

const usage = `usage: ringcache-bench <command> [flags]

commands:
  load      drive a GET/SET/DEL load at one server and report throughput and latency
  compare   run redis-benchmark against redis-server (AOF on and off) and ringcache
  handoff   kill a node of a 5-node cluster under load, write its keys, restart it, measure hint replay
  repair    measure one anti-entropy exchange between two 1M-key replicas and the digest's write cost
  scaleout  a 4th node joins a loaded 3-node cluster holding 1M keys: streaming rate, time to normal, load before/during/after
  evict     ringcache then redis-server under a 64mb budget (allkeys-lru unless --policy): SET rate with room and when full, Zipf hit rate, memory
  nemesis   inject faults into a 5-node cluster under a recorded workload and check what the clients saw

run "ringcache-bench <command> -h" for the flags of a command.
`

func main() {
	// go-redis logs every refused dial; while a server starts up those are
	// expected, and real failures reach the user as returned errors.
	redis.SetLogger(quietLogger{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// run is main without the process exit, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// Ctrl-C cancels the context; the subcommands then stop what they
	// started and return, instead of leaving servers behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case "compare":
		err = runCompare(ctx, args[1:], stdout, stderr)
	case "handoff":
		err = runHandoff(ctx, args[1:], stdout, stderr)
	case "repair":
		err = runRepair(ctx, args[1:], stdout, stderr)
	case "nemesis":
		err = runNemesis(ctx, args[1:], stdout, stderr)
	case "scaleout":
		err = runScaleOut(ctx, args[1:], stdout, stderr)
	case "evict":
		err = runEvict(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ringcache-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "ringcache-bench %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks a flag error the flag package has already reported.
var errUsage = errors.New("ringcache-bench: usage")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
