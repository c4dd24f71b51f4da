package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Distribution names accepted in Config.Dist.
const (
	DistUniform    = "uniform"
	DistZipfian    = "zipfian"
	DistSequential = "sequential"
)

// Config describes one load-generator run. Build it with DefaultConfig and
// override fields; Run calls Validate.
type Config struct {
	// Addr is the server address, host:port. Default "127.0.0.1:6379".
	Addr string
	// Password is sent with AUTH when non-empty. Default "".
	Password string
	// Mix is the share of each command. Default 80% GET, 20% SET.
	Mix Mix
	// Keys is the size of the key space; keys are "key:%012d" for 0..Keys-1,
	// the same names redis-benchmark -r produces. Default 100000.
	Keys int
	// Dist picks keys: DistUniform, DistZipfian (rank 0 hottest) or
	// DistSequential (0, 1, 2, ... wrapping at Keys, shared by all
	// connections, so Ops == Keys writes every key exactly once).
	// Default DistUniform.
	Dist string
	// ZipfS is the Zipf exponent s (> 0) for DistZipfian; P(rank k) is
	// proportional to 1/(k+1)^s. Default 0.99, the YCSB constant.
	ZipfS float64
	// ValueSize is the SET payload in bytes. Default 100.
	ValueSize int
	// Conns is the number of connections, each driven by one goroutine.
	// Default 50.
	Conns int
	// Pipeline is the number of commands sent per round trip on each
	// connection. Default 1.
	Pipeline int
	// Duration bounds the run in wall time when Ops is 0. Default 10s.
	Duration time.Duration
	// Ops bounds the run by total commands when > 0; it takes precedence over
	// Duration. Default 0.
	Ops int64
	// TTL is attached to every SET when > 0. Default 0 (no expiry).
	TTL time.Duration
	// Seed makes key and command choice reproducible. Default 1.
	Seed uint64
	// Timeout bounds each round trip (dial, read, write). Default 5s.
	Timeout time.Duration
	// Progress receives a progress bar while running; nil disables it.
	// Default nil.
	Progress io.Writer
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:      "127.0.0.1:6379",
		Mix:       Mix{Get: 0.8, Set: 0.2},
		Keys:      100000,
		Dist:      DistUniform,
		ZipfS:     0.99,
		ValueSize: 100,
		Conns:     50,
		Pipeline:  1,
		Duration:  10 * time.Second,
		Seed:      1,
		Timeout:   5 * time.Second,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Addr == "":
		return bad("addr is empty")
	case c.Keys < 1:
		return bad("keys %d < 1", c.Keys)
	case c.Dist != DistUniform && c.Dist != DistZipfian && c.Dist != DistSequential:
		return bad("dist %q is not uniform, zipfian or sequential", c.Dist)
	case c.Dist == DistZipfian && !(c.ZipfS > 0):
		return bad("zipf-s %v must be > 0", c.ZipfS)
	case c.ValueSize < 0:
		return bad("value-size %d < 0", c.ValueSize)
	case c.Conns < 1:
		return bad("conns %d < 1", c.Conns)
	case c.Pipeline < 1:
		return bad("pipeline %d < 1", c.Pipeline)
	case c.Ops < 0:
		return bad("ops %d < 0", c.Ops)
	case c.Ops == 0 && c.Duration <= 0:
		return bad("need ops > 0 or duration > 0")
	case c.TTL < 0:
		return bad("ttl %v < 0", c.TTL)
	case c.Timeout <= 0:
		return bad("timeout %v <= 0", c.Timeout)
	}
	return c.Mix.validate()
}

// Mix holds the relative weight of each command. Weights need not sum to 1:
// {Get: 80, Set: 20} and {Get: 0.8, Set: 0.2} are the same mix.
type Mix struct {
	Get, Set, Del float64
}

func (m Mix) validate() error {
	if m.Get < 0 || m.Set < 0 || m.Del < 0 {
		return fmt.Errorf("%w: negative mix weight %+v", ErrInvalidConfig, m)
	}
	if m.Get+m.Set+m.Del <= 0 {
		return fmt.Errorf("%w: mix weights sum to zero", ErrInvalidConfig)
	}
	return nil
}

// String formats the mix in the form ParseMix accepts, as percentages.
func (m Mix) String() string {
	t := m.Get + m.Set + m.Del
	if t <= 0 {
		return "get=0,set=0,del=0"
	}
	f := func(v float64) string { return strconv.FormatFloat(100*v/t, 'g', 4, 64) }
	return "get=" + f(m.Get) + ",set=" + f(m.Set) + ",del=" + f(m.Del)
}

// ParseMix parses "get=80,set=20,del=0". Commands left out get weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("%w: mix term %q is not name=weight", ErrInvalidConfig, part)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return Mix{}, fmt.Errorf("%w: mix weight %q: %v", ErrInvalidConfig, val, err)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "get":
			m.Get = w
		case "set":
			m.Set = w
		case "del":
			m.Del = w
		default:
			return Mix{}, fmt.Errorf("%w: unknown command %q in mix", ErrInvalidConfig, name)
		}
	}
	return m, m.validate()
}
