package ovsdb

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

// logrusSink routes libovsdb's logr output into logrus. libovsdb logs every
// connection step, monitor and cache event at Info level; those become
// debug lines, so an agent at the default level stays quiet. Its errors
// (failed reconnects, cache inconsistencies) become warnings: libovsdb
// recovers from them itself, but an operator should see them.
type logrusSink struct {
	entry *logrus.Entry
}

var _ logr.LogSink = (*logrusSink)(nil)

// Init implements logr.LogSink.
func (s *logrusSink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink: everything libovsdb says is detail.
func (s *logrusSink) Enabled(int) bool { return s.entry.Logger.IsLevelEnabled(logrus.DebugLevel) }

// Info implements logr.LogSink.
func (s *logrusSink) Info(level int, msg string, kv ...any) {
	s.with(kv).WithField("v", level).Debug(msg)
}

// Error implements logr.LogSink.
func (s *logrusSink) Error(err error, msg string, kv ...any) {
	s.with(kv).WithError(err).Warn(msg)
}

// WithValues implements logr.LogSink.
func (s *logrusSink) WithValues(kv ...any) logr.LogSink {
	return &logrusSink{entry: s.with(kv)}
}

// WithName implements logr.LogSink.
func (s *logrusSink) WithName(name string) logr.LogSink {
	return &logrusSink{entry: s.entry.WithField("logger", name)}
}

// with adds logr key/value pairs as logrus fields.
func (s *logrusSink) with(kv []any) *logrus.Entry {
	if len(kv) == 0 {
		return s.entry
	}
	f := make(logrus.Fields, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return s.entry.WithFields(f)
}
