package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
)

// logWriter routes memberlist's log lines ("[LEVEL] memberlist: text") to
// slog at the matching level, without the prefix.
//
// It also watches for the one trace memberlist leaves of a suspicion.
// memberlist keeps its suspect state private: no delegate hears of it and
// Members reports suspects as alive. When this node's probe of a member
// gets no ack, direct or indirect, memberlist logs "Suspect <name> has
// failed, no acks received" just before suspecting it; onSuspect receives
// that name. The pinned memberlist version is covered by a test that
// depends on this line.
type logWriter struct {
	log       *slog.Logger
	onSuspect func(name string)
}

// newMemberlistLogger returns the *log.Logger memberlist writes to.
func newMemberlistLogger(l *slog.Logger, onSuspect func(string)) *log.Logger {
	return log.New(&logWriter{log: l, onSuspect: onSuspect}, "", 0)
}

const (
	suspectPrefix = "Suspect "
	suspectSuffix = " has failed, no acks received"
)

// Write handles one log line; log.Logger calls it once per message.
func (w *logWriter) Write(p []byte) (int, error) {
	level, msg := parseLogLine(string(bytes.TrimRight(p, "\r\n")))
	if name, ok := suspectName(msg); ok && w.onSuspect != nil {
		w.onSuspect(name)
	}
	w.log.Log(context.Background(), level, msg, "component", "memberlist")
	return len(p), nil
}

// parseLogLine splits "[LEVEL] memberlist: text" into a slog level and
// "text". Lines without a recognised level are Info; without the
// "memberlist: " prefix they are kept whole.
func parseLogLine(line string) (slog.Level, string) {
	level := slog.LevelInfo
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if tag, text, ok := strings.Cut(rest, "] "); ok {
			if lv, known := levelOf(tag); known {
				level, line = lv, text
			}
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	return level, line
}

func levelOf(tag string) (slog.Level, bool) {
	switch tag {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN", "WARNING":
		return slog.LevelWarn, true
	case "ERR", "ERROR":
		return slog.LevelError, true
	}
	return 0, false
}

// suspectName extracts the node name from memberlist's failed-probe line.
func suspectName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, suspectPrefix)
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, suspectSuffix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}
