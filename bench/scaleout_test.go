package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestScaleOutConfigValidate(t *testing.T) {
	if err := DefaultScaleOutConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, mod := range []func(*ScaleOutConfig){
		func(c *ScaleOutConfig) { c.RingcacheBin = "" },
		func(c *ScaleOutConfig) { c.Keys = 0 },
		func(c *ScaleOutConfig) { c.Phase = 0 },
		func(c *ScaleOutConfig) { c.StreamRate = -1 },
	} {
		c := DefaultScaleOutConfig()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", c, err)
		}
	}
}

func TestScaleOutWriteText(t *testing.T) {
	r := ScaleOutResult{Keys: 1000, ValueSize: 100, Conns: 2, Rate: 100, StreamRate: 50e6, JoinSec: 1.5,
		StreamKeys: 750, StreamBytes: 120000, StreamSec: 0.5, StreamKeysPerSec: 1500, StreamMBPerSec: 0.24,
		Phases: []PhaseResult{{Name: PhaseBefore, Get: PhaseOpStat{Ops: 10, SuccessPct: 100}}, {Name: PhaseJoin, Get: PhaseOpStat{Ops: 9, Missing: 1, Errors: 1, FirstError: "boom"}}}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"before", "join", "join GET: 1 errors, first: boom", "streamed 750 keys", "1500 keys/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}
