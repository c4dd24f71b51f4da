package server

import (
	"sync"
	"time"
)

// SAVE, BGSAVE, LASTSAVE and SHUTDOWN. Saving is Config.Checkpoint: the
// binary writes a consistent copy of its storage where it keeps its
// backups. One save runs at a time; BGSAVE's runs on a goroutine the
// server owns, and Shutdown waits for it, so the storage is never closed
// under a running checkpoint.

type saver struct {
	mu      sync.Mutex
	running bool
	again   bool // BGSAVE SCHEDULE asked for one more after the running one
	last    time.Time
	lastErr error
	wg      sync.WaitGroup
}

var (
	errSaveInProgress = newReplyError("ERR Background save already in progress")
	errNoCheckpoint   = newReplyError("ERR saving is not available on this server")
)

// save runs one checkpoint now, unless one is running.
func (s *Server) save() error {
	if s.cfg.Checkpoint == nil {
		return errNoCheckpoint
	}
	s.saves.mu.Lock()
	if s.saves.running {
		s.saves.mu.Unlock()
		return errSaveInProgress
	}
	s.saves.running = true
	s.saves.mu.Unlock()
	return s.finishSave(s.cfg.Checkpoint())
}

// finishSave records a checkpoint's outcome and ends the running save.
func (s *Server) finishSave(err error) error {
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	s.saves.running = false
	s.saves.lastErr = err
	if err != nil {
		s.log.Error("save failed", "err", err)
		return newReplyError("ERR " + err.Error())
	}
	s.saves.last = s.now()
	return nil
}

// bgsave starts a checkpoint on the server's goroutine; scheduled reports
// that one was running and another will follow it.
func (s *Server) bgsave(schedule bool) (scheduled bool, err error) {
	if s.cfg.Checkpoint == nil {
		return false, errNoCheckpoint
	}
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	if s.saves.running {
		if !schedule {
			return false, errSaveInProgress
		}
		s.saves.again = true
		return true, nil
	}
	s.saves.running = true
	s.saves.wg.Add(1)
	go func() {
		defer s.saves.wg.Done()
		for {
			_ = s.finishSave(s.cfg.Checkpoint())
			s.saves.mu.Lock()
			again := s.saves.again
			s.saves.again = false
			if again {
				s.saves.running = true
			}
			s.saves.mu.Unlock()
			if !again {
				return
			}
		}
	}()
	return false, nil
}

func (s *Server) lastSave() (at time.Time, inProgress bool, err error) {
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	at = s.saves.last
	if at.IsZero() {
		at = s.started
	}
	return at, s.saves.running, s.saves.lastErr
}

func cmdSave(x *call) error {
	if err := x.s.save(); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdBgSave(x *call) error {
	schedule := false
	switch {
	case len(x.args) == 2 && equalFold(x.args[1], "schedule"):
		schedule = true
	case len(x.args) > 1:
		return errSyntax
	}
	scheduled, err := x.s.bgsave(schedule)
	switch {
	case err != nil:
		return err
	case scheduled:
		x.conn.WriteString("Background saving scheduled")
	default:
		x.conn.WriteString("Background saving started")
	}
	return nil
}

func cmdLastSave(x *call) error {
	at, _, _ := x.s.lastSave()
	x.conn.WriteInt64(at.Unix())
	return nil
}

// cmdShutdown answers SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: with
// SAVE it checkpoints first (a failed save stops the shutdown unless
// FORCE), then asks the binary to stop as on SIGTERM and closes this
// connection without a reply, as Redis does. Nothing is lost without SAVE:
// every acknowledged write is already durable.
func cmdShutdown(x *call) error {
	var save, nosave, abort, force bool
	for _, a := range x.args[1:] {
		switch {
		case equalFold(a, "save"):
			save = true
		case equalFold(a, "nosave"):
			nosave = true
		case equalFold(a, "force"):
			force = true
		case equalFold(a, "now"):
		case equalFold(a, "abort"):
			abort = true
		default:
			return errSyntax
		}
	}
	switch {
	case save && nosave, abort && len(x.args) > 2:
		return errSyntax
	case abort:
		return newReplyError("ERR No shutdown in progress.")
	case x.s.cfg.Shutdown == nil:
		return newReplyError("ERR SHUTDOWN is not available on this server")
	}
	if save {
		if err := x.s.save(); err != nil && !force {
			return newReplyError("ERR Errors trying to SHUTDOWN. Check logs.")
		}
	}
	x.s.log.Warn("SHUTDOWN asked by a client", "addr", x.c.conn.RemoteAddr().String(), "save", save)
	x.s.cfg.Shutdown()
	x.c.closed = true
	x.conn.Close()
	return nil
}
